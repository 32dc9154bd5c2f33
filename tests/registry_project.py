"""A small real project to release from, without the embedding model or the full pipeline.

The project's own files in a fresh git repository (copy_project), without dvc.yaml so that
`dvc status` is clean, plus what the pipeline would have left: a real snapshot of data/raw,
a vector pointer, a small scikit-learn candidate trained with training.py, metrics and a run
record. Everything `reprostack release` reads goes through the same readers as in a real run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import copy_project, git

from reprostack import config, jsonio, vectors
from reprostack.config import ModelParams
from reprostack.data import snapshot
from reprostack.model import training
from reprostack.runs import records

DIM = 16
CLASSES = ("finance", "sports", "weather")
EMBEDDING = "test-hash-embedder"


def blobs(seed: int, n: int = 90):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(len(CLASSES), DIM)) * 4
    noise = np.random.default_rng(seed)
    y = [CLASSES[i % len(CLASSES)] for i in range(n)]
    X = np.stack([centers[i % len(CLASSES)] + noise.normal(size=DIM) for i in range(n)]).astype(np.float32)
    return X, y


def hash_embedder(embedding: dict | None = None):
    """Deterministic stand-in for the sentence-transformers model (which takes ~10 s to load):
    a text's vector comes from a hash of its words."""
    def embed(texts):
        out = []
        for text in texts:
            seed = int.from_bytes(text.encode("utf-8")[:8].ljust(8, b"\0"), "little")
            out.append(np.random.default_rng(seed).normal(size=DIM))
        return np.asarray(out, dtype=np.float32)
    return embed


def make_candidate(root: Path, seed: int, C: float = 1.0) -> str:
    """Train a candidate as the train stage would, record a run for it, commit; return sha256."""
    params = config.load_params(root / "params.yaml")
    X, y = blobs(seed)
    model = training.train(ModelParams("logreg", {"C": C, "max_iter": 200, "class_weight": None}), X, y, seed=seed)
    cand = root / params.paths.candidate
    sha = training.save_model(model, cand / training.MODEL_FILE)
    training.write_card(cand, {"file": training.MODEL_FILE, "sha256": sha, "classifier": "logreg",
                               "options": {"C": C}, "classes": sorted(CLASSES), "n_train": len(y)})
    metrics = {"accuracy": round(0.9 + seed / 1000, 6), "macro_f1": 0.9, "n_test": 30}
    (root / params.paths.eval).mkdir(parents=True, exist_ok=True)
    (root / params.paths.eval / "metrics.json").write_text(jsonio.dumps(metrics))
    run_params = {**params.raw, "seed": seed}
    records.write_record(root / params.paths.runs, {
        "run_id": records.new_run_id(), "created_utc": "2026-01-01T00:00:00Z", "code": {}, "data": {},
        "params": run_params, "environment": {},
        "outputs": {"model": {"path": str(cand / training.MODEL_FILE), "sha256": sha}, "metrics": metrics},
    })
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"candidate {seed}")
    return sha


def make_project(dest: Path) -> Path:
    root = copy_project(dest)
    git(root, "rm", "-q", "--ignore-unmatch", "dvc.yaml", "dvc.lock")  # a new project has no dvc.lock yet
    params = config.load_params(root / "params.yaml")
    snap = snapshot.create(root / params.data.raw_dir, root / params.paths.snapshots, params.data.name)
    snapshot.write_pointer(root / params.paths.snapshot_pointer,
                           snapshot.Snapshot(snap.dataset, snap.version, snap.digest, Path(params.paths.snapshots) / snap.dataset / snap.version))
    fields = dict(uri="data/vectors", table="texts", version=3, tag="run-3", rows=90, model=EMBEDDING,
                  model_fingerprint="0" * 64, dimension=DIM, vector_column="vector", metric="cosine",
                  vectors_sha256="1" * 64, snapshot=snap.version)
    # the pointer gains fields over time (issue 4 adds `tag`): pass the ones this version knows
    vectors.write_pointer(root / params.paths.vectors_pointer, vectors.Pointer(
        **{key: value for key, value in fields.items() if key in vectors.Pointer.__dataclass_fields__}))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "pipeline outputs")
    return root


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reprostack", *args], cwd=root, capture_output=True, text=True)


def clone(src: Path, dest: Path) -> Path:
    """A byte-for-byte copy of a project, .git and .dvc/cache included."""
    shutil.copytree(src, dest, symlinks=True)
    subprocess.run(["chmod", "-R", "u+w", str(dest)], check=True)
    return dest
