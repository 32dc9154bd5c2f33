"""Builders shared by the tests: real projects, real stage runs, real tables.

Nothing here forges a file the library owns: pointers, candidates, metrics and run records are
written by the stage code itself (stages/*.main), tables by vectors.update, releases by
registry.release. The one stand-in is the text encoder: `hash_embed` replaces the
sentence-transformers model (10 s to load) with a deterministic bag-of-hashed-words encoder, so
texts that share words get close vectors and the classifier trained on them learns.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from tools import git

REPO = Path(__file__).resolve().parents[1]
DIM = 16
# The embedding model name a built project is configured with: no such model is installed, so a
# command that would load the real model says so instead of loading it.
STAND_IN = "test-hash-embedder"


def copy_project(dest: Path) -> Path:
    """A fresh git repository holding this project's tracked files (what a clone has)."""
    files = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "initial")
    return dest


def clone(src: Path, dest: Path) -> Path:
    """A byte-for-byte copy of a built project (.git and .dvc/cache included). `cp -a` keeps the
    hard links between data/raw and its snapshot, which a tree copy in Python would break."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    return dest


def write_csv(path: Path, rows: list[tuple], header=("id", "text", "label"), encoding="utf-8") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


# ---- the stand-in encoder ---------------------------------------------------------------------

def _word_vector(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).normal(size=DIM)


def hash_embed(texts) -> np.ndarray:
    """Sum of per-word hashed vectors, normalised: deterministic and batch-invariant, like
    embedding.embed."""
    out = np.zeros((len(texts), DIM))
    for i, text in enumerate(texts):
        for word in text.lower().split() or [""]:
            out[i] += _word_vector(word)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms == 0, 1, norms)).astype(np.float32)


def hash_embedder(embedding: dict | None = None):
    """An embedder factory for registry.serving.create_app."""
    return hash_embed


class HashEncoder:
    """hash_embed with what the embed stage reports of an encoder (model/embedding.LazyEncoder)."""

    truncated = 0  # hash_embed has no token limit

    def __init__(self):
        self.passes = 0

    def __call__(self, texts):
        self.passes += 1
        return hash_embed(texts)


@contextlib.contextmanager
def stand_in_encoder():
    """The embed stage and registry loader use hash_embed instead of loading a real model."""
    import pytest

    from reprostack.model import embedding

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(embedding, "resolve", lambda name, root=".", revision=None: embedding.ResolvedModel(name, Path(".")))
        patch.setattr(embedding, "fingerprint", lambda path: hashlib.sha256(b"hash_embed").hexdigest())
        patch.setattr(embedding, "lazy_encoder", lambda *args, **kwargs: HashEncoder())
        yield


# ---- tables and pointers ----------------------------------------------------------------------

def labelled_rows(n: int = 90, classes=("finance", "sports", "weather")):
    """n texts in len(classes) classes; a class's texts share its words (a learnable dataset)."""
    ids = [f"r{i:04d}" for i in range(n)]
    labels = [classes[i % len(classes)] for i in range(n)]
    texts = [f"{label} {label}-news item {i} word{i % 7}" for i, label in enumerate(labels)]
    return ids, texts, labels


def pointer_to(uri, table: str, version, storage_options=None, **fields):
    """A VectorsPointer to a real table version, its vectors_sha256 computed from the table itself."""
    from reprostack import vectors
    from reprostack.vectors import lance_table, pointer

    data = lance_table.dataset(str(uri), table, version, storage_options)
    meta = lance_table.read_meta(data)
    column = meta["active_column"]
    rows = pointer.read_column(data, column)
    values = dict(uri=str(uri), table=table, version=data.version, tag="", rows=len(rows.ids), model="m",
                  model_fingerprint="f", dimension=int(rows.vectors.shape[1]), vector_column=column,
                  metric=lance_table.METRIC, vectors_sha256=lance_table.content_sha256(rows.ids, rows.labels, rows.vectors),
                  snapshot="s")
    return vectors.VectorsPointer(**{**values, **fields})


# ---- real projects and stage runs ---------------------------------------------------------------

def params_of(root: Path):
    from reprostack.core import config

    return config.load_params(root / config.PARAMS_FILE)


def edit_conf(root: Path, compose: bool = True, **top_level) -> None:
    """Set top-level keys of conf/config.yaml (which Hydra applies last, `_self_`, merging into
    the groups) and recompose params.yaml (as the compose stage would, unless compose=False)."""
    from reprostack.core import config

    path = root / config.CONF_DIR / "config.yaml"
    conf = yaml.safe_load(path.read_text())
    conf.update(top_level)
    path.write_text(yaml.safe_dump(conf, sort_keys=False))
    if compose:
        config.write_composed(root / config.CONF_DIR, root / config.PARAMS_FILE)


def ensure_data(root: Path) -> str | None:
    """A project rendered without the sample data gets a small generated CSV in its columns;
    returns a commit message when it wrote one."""
    data = params_of(root).data
    path = root / data.raw_dir / data.file
    if path.exists():
        return None
    write_csv(path, list(zip(*labelled_rows())), header=(data.id_column, data.text_column, data.label_column))
    return "generated data"


PIPELINE = ("compose", "snapshot", "embed", "train", "evaluate", "record")


def run_stages(root: Path, stages=PIPELINE) -> None:
    """Run the stages' own main() in process, in pipeline order, as `python -m` would (stamps
    included), with the stand-in encoder; then `dvc commit` so `dvc status` is clean."""
    import importlib

    import pytest

    from reprostack.stages import _runner

    with stand_in_encoder(), pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        patch.chdir(root)
        patch.setenv("REPROSTACK_TRACEBACK", "1")  # raise, do not sys.exit, on an error
        for stage in stages:
            module = importlib.import_module(f"reprostack.stages.{stage}")
            _runner.run(module.main, stamp=stage != "record")
        from dvc.cli import main as dvc_main  # in process: a `dvc` process start costs seconds

        assert dvc_main(["commit", "-f", "-q"]) == 0, sys.stderr.getvalue()


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def build_project(dest: Path) -> Path:
    """A project whose pipeline has run (stand-in encoder) and whose outputs are committed."""
    root = copy_project(dest)
    edit_conf(root, embedding={"model": STAND_IN})
    ensure_data(root)
    run_stages(root)
    commit_all(root, "pipeline run")
    return root


def make_candidate(root: Path) -> str:
    """A new candidate: the seed moves on in conf/, the pipeline re-runs and is committed (a minor
    release: same labels and embedding). Returns the candidate's sha256."""
    from reprostack.model import training

    edit_conf(root, seed=params_of(root).seed + 1)
    run_stages(root)
    commit_all(root, "new candidate")
    return training.read_card(root / params_of(root).paths.candidate).sha256


def latest_record(root: Path) -> dict:
    from reprostack.runs import records

    return records.list_records(root / params_of(root).paths.runs)[-1]


def wide_model(path):
    """A second real sentence-transformers model, 768 dims, built offline: MiniLM plus a fixed
    random Dense 384->768 layer, saved with sentence-transformers' own save()."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize

    from reprostack.model import embedding

    base = SentenceTransformer(str(embedding.resolve("all-MiniLM-L6-v2").path), device="cpu")
    torch.manual_seed(0)
    dense = Dense(in_features=384, out_features=768, bias=False, activation_function=torch.nn.Identity())
    SentenceTransformer(modules=[*base, dense, Normalize()], device="cpu").save(str(path))
    return path
