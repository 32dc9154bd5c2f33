"""Load a registered model by name and stage or version; predict labels for texts.

The model file is re-hashed and compared with the registry's sha256 before it is unpickled
(training.load_classifier), so a swapped or tampered file is never deserialised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprostack.core import names
from reprostack.core.errors import IntegrityError, ModelNotFoundError, RegistryError
from reprostack.model import training
from reprostack.registry import catalog

Embedder = Callable[[Sequence[str]], Any]  # texts -> (n, dim) float array


@dataclass
class LoadedModel:
    name: str
    version: str
    stage: str
    sha256: str
    classifier: Any = field(repr=False)
    embedding: dict = field(default_factory=dict)  # model, fingerprint, dimension, normalize

    def info(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "stage": self.stage,
            "sha256": self.sha256,
            "embedding_model": self.embedding.get("model"),
        }

    def predict(self, texts: Sequence[str], embed: Embedder) -> list[dict]:
        """One {"text", "label", "scores": {label: probability}, "truncated"} per text."""
        if not texts:
            return []
        texts = list(texts)
        if hasattr(embed, "encode"):  # a TextEmbedder also says which texts it truncated
            encoded = embed.encode(texts)
            return self.classify(texts, encoded.vectors, encoded.truncated)
        return self.classify(texts, embed(texts))

    def classify(self, texts: Sequence[str], vectors, truncated: Sequence[bool] | None = None) -> list[dict]:
        if vectors.shape[1] != self.embedding.get("dimension", vectors.shape[1]):
            raise ModelNotFoundError(
                f"{self.name} {self.version} expects {self.embedding['dimension']}-dimensional "
                f"vectors, the embedder gave {vectors.shape[1]}"
            )
        classes = [str(c) for c in self.classifier.classes_]
        out = []
        for i, text in enumerate(texts):
            # One row per call: a matrix of rows may take another BLAS kernel than a single row
            # and give other last bits, and an answer must not depend on who shared its batch.
            row = self.classifier.predict_proba(vectors[i : i + 1])[0]
            scores = {label: round(float(p), 6) for label, p in zip(classes, row)}
            out.append(
                {
                    "text": text,
                    "label": max(scores, key=scores.get),
                    "scores": scores,
                    "truncated": bool(truncated[i]) if truncated is not None else False,
                }
            )
        return out


def select_entry(data: dict, name: str, stage: str | None = None, version: str | None = None) -> dict:
    """The registry entry for name@version, or for the (single) version in `stage`."""
    if version is not None:
        return catalog.require_version(data, name, version)
    names.check_stage_name(stage)
    entries = catalog.in_stage(data, name, stage)
    if not entries:
        raise RegistryError(f"{name} has no version in {stage}; see `reprostack registry show {name}`")
    # stages other than production may hold several versions: take the newest
    return max(entries, key=lambda e: names.version_key(e["version"]))


def load_entry(root: str | Path, name: str, entry: dict) -> LoadedModel:
    path = Path(root) / entry["model"]["path"]
    version_dir = Path(entry["model"]["path"]).parent
    if not path.exists() and (Path(root) / f"{version_dir}.dvc").is_file():  # a released model, tracked by DVC
        from reprostack.store import restore

        raise ModelNotFoundError(
            f"{name} {entry['version']}: model file {entry['model']['path']} is not in this "
            f"clone; {restore.restore_advice(root, version_dir, 'restore it with')}"
        )
    try:
        classifier = training.load_classifier(path, entry["model"]["sha256"])
    except IntegrityError as exc:
        if not (Path(root) / f"{version_dir}.dvc").is_file():
            raise
        from reprostack.store import restore

        # a released model is restored from DVC's copy, not rebuilt by `dvc repro`
        first = str(exc).split(": restore it with")[0].split("; restore it with")[0]
        raise IntegrityError(f"{first}; {restore.restore_advice(root, version_dir, 'restore it with')}") from None
    return LoadedModel(
        name=name,
        version=entry["version"],
        stage=entry["stage"],
        sha256=entry["model"]["sha256"],
        classifier=classifier,
        embedding=dict(entry.get("embedding") or {}),
    )


def load_model(name: str, stage: str = "production", version: str | None = None, root: str | Path = ".") -> LoadedModel:
    """The Python API: `load_model("textclf")` is the production version, verified, unpickled."""
    names.check_model_name(name)
    data = catalog.read(root)
    return load_entry(root, name, select_entry(data, name, stage, version))


def load_ref(ref: str, root: str | Path = ".", default_stage: str = "production") -> LoadedModel:
    """'name', 'name@stage' or 'name@vX.Y.Z'."""
    name, which = names.parse_ref(ref)
    if which is not None and which.startswith("v") and names.VERSION_RE.match(which):
        return load_model(name, version=which, root=root)
    return load_model(name, stage=which or default_stage, root=root)


@dataclass
class TextEmbedder:
    """texts -> vectors with the encoder and encoding scheme a version was trained with."""

    model: Any = field(repr=False)
    scheme: str
    normalize: bool
    batch_size: int = 64
    _shaper: Any = field(default=None, init=False, repr=False)  # pass_shapes' own tokenizer

    def encode(self, texts: Sequence[str]):
        from reprostack.model import encoding

        return encoding.encode(texts, self.model, self.scheme, self.batch_size, self.normalize)

    def __call__(self, texts: Sequence[str]):
        return self.encode(texts).vectors

    def pass_shapes(self, texts: Sequence[str]) -> list[tuple[int, int]] | None:
        """Each text's forward-pass shape (padded width, rows) under a bucketNxR scheme, so a
        server can gather full passes (serving/batcher.py); None where passes have no fixed shape.
        Tokenizes with a copy of the tokenizer: the encoder's own is in use on the inference
        thread, and a fast tokenizer called from two threads at once fails ("Already borrowed")."""
        import copy
        from types import SimpleNamespace

        from reprostack.model import encoding

        rows = encoding.rows_per_pass(self.scheme)
        if not rows or getattr(self.model, "tokenizer", None) is None:
            return None
        if self._shaper is None:
            self._shaper = SimpleNamespace(
                tokenizer=copy.deepcopy(self.model.tokenizer), max_seq_length=self.model.max_seq_length
            )
        ids, _ = encoding.tokenize(texts, self._shaper)
        return [(width, rows) for width in encoding.widths(ids, self.scheme, self._shaper.max_seq_length)]


def text_embedder(embedding: dict, root: str | Path = ".") -> TextEmbedder:
    """The sentence-transformers model the version was trained with, checked by fingerprint."""
    import os

    from reprostack.model import embedding as emb
    from reprostack.model import encoding

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no progress bars in predict/serve output
    resolved = emb.resolve(embedding["model"], root, revision=embedding.get("revision"))
    found = emb.fingerprint(resolved.path)
    if embedding.get("fingerprint") and found != embedding["fingerprint"]:
        raise ModelNotFoundError(
            f"embedding model {embedding['model']} has weights fingerprint {found[:12]}, the model was trained with "
            f"{embedding['fingerprint'][:12]}; install the version in requirements.lock"
        )
    if emb.hashing.is_hashing(resolved.name):
        return emb.hashing.HashingEncoder(resolved.name)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # a registry entry from before the scheme (or backend) was recorded was trained on per-length
    # vectors (on torch)
    return TextEmbedder(
        emb.load_encoder(resolved, backend=embedding.get("backend", emb.backends.LEGACY_BACKEND)),
        embedding.get("encoding", encoding.LEGACY_SCHEME),
        bool(embedding.get("normalize", True)),
    )
