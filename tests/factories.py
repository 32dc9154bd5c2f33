"""Builders shared by the tests: real projects, real stage runs, real tables.

Nothing here forges a file the library owns: pointers, candidates, metrics and run records are
written by the stage code itself (stages/*.main), tables by vectors.update, releases by
registry.release. Projects are built from the repository's *sources* only (`copy_sources`), so
the tests pass whatever the repository's own state (a `make repro`, releases, experiments, a
configured store). The encoder is the library's own stand-in, `embedding.model: hashing:<dim>`
(model/hashing.py): set in conf/, it reaches `dvc repro`, the CLI and the registry loader in
any process, so no test but the slow real-model ones loads sentence-transformers.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from tools import git

from reprostack.model import hashing

REPO = Path(__file__).resolve().parents[1]
# Where the builders take a project's sources from: this checkout, or another one named by
# REPROSTACK_TEST_SOURCE (how the suite is proved against a repository in any state).
SOURCE = Path(os.environ.get("REPROSTACK_TEST_SOURCE") or REPO).resolve()
DIM = 16
# The embedding model a built project is configured with: the built-in hashing encoder.
STAND_IN = f"{hashing.PREFIX}{DIM}"
# A model name nothing provides: a command that would load it says so.
MISSING_MODEL = "test-missing-embedder"

# A project's sources: what `git clone` plus `make repro` needs and nothing a run, a release, an
# experiment or a store adds (dvc.lock, runs/*.json, eval/, models/<name>/, registry files,
# .dvc/cache, .dvc/config.local, experiment refs). params.yaml is recomposed from conf/.
SOURCE_DIRS = ("conf/", "data/raw/", "src/")
SOURCE_FILES = frozenset(
    {
        "dvc.yaml",
        ".dvcignore",
        ".gitignore",
        "data/.gitignore",
        ".dvc/.gitignore",
        ".dvc/config",
        ".dvc/plots/offline.html",
        "models/.gitignore",
        "runs/.gitkeep",
        "runs/stages/pending-record.txt",
        "runs/stages/params-drift.txt",
        "requirements.lock",
        "pyproject.toml",
        "README.md",
        "Makefile",
        "LICENSE",
    }
)


@functools.cache
def source_files(source: Path = SOURCE) -> tuple[str, ...]:
    """The source files of a checkout (tracked or new, not ignored, present on disk)."""
    listed = git(source, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    return tuple(
        name
        for name in dict.fromkeys(filter(None, listed))
        if (name in SOURCE_FILES or name.startswith(SOURCE_DIRS))
        and "__pycache__" not in name
        and (source / name).is_file()
    )


def _dvc_config_without_remotes(text: str) -> str:
    """The checkout's .dvc/config less its remotes: a store configured there is its own state."""
    from configobj import ConfigObj

    conf = ConfigObj(text.splitlines())
    if not any(s.startswith("remote") for s in conf) and "remote" not in conf.get("core", {}):
        return text  # as it is, byte for byte
    for section in [s for s in conf if s.startswith("remote")]:
        del conf[section]
    if "core" in conf:
        conf["core"].pop("remote", None)
        if not conf["core"]:
            del conf["core"]
    return "\n".join(conf.write()) + "\n"


def copy_sources(dest: Path, source: Path = SOURCE) -> Path:
    """A fresh git repository (one commit) holding a checkout's project sources and params.yaml
    composed from its conf/: what a clone of a clean repository has, less every built output.
    What every project builder starts from."""
    from reprostack.core import config

    for name in source_files(source):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name == ".dvc/config":
            target.write_text(_dvc_config_without_remotes((source / name).read_text()))
        else:
            shutil.copy2(source / name, target)
    config.write_composed(dest / config.CONF_DIR, dest / config.PARAMS_FILE)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "initial")
    return dest


def copy_project(dest: Path) -> Path:
    """A fresh git repository holding every tracked and new (not ignored) file of this checkout,
    the template included: the source the template tests render from. Project builders use
    copy_sources."""
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


class HashEncoder(hashing.HashingEncoder):
    """The library's hashing encoder at DIM, built with no arguments (a factory for Ray actors)."""

    def __init__(self):
        super().__init__(STAND_IN)


def hash_embed(texts) -> np.ndarray:
    """What a project configured with STAND_IN embeds texts as."""
    return hashing.HashingEncoder(STAND_IN)(list(texts))


def hash_embedder(embedding: dict | None = None):
    """An embedder factory for serving.create_app that ignores the configured model."""
    return hash_embed


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
    values = dict(
        uri=str(uri),
        table=table,
        version=data.version,
        tag="",
        rows=len(rows.ids),
        model="m",
        model_fingerprint="f",
        dimension=int(rows.vectors.shape[1]),
        vector_column=column,
        metric=lance_table.METRIC,
        vectors_sha256=lance_table.content_sha256(rows.ids, rows.labels, rows.vectors),
        snapshot="s",
    )
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
    included); then `dvc commit` so `dvc status` is clean."""
    import importlib

    import pytest

    from reprostack.stages import _runner

    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        patch.chdir(root)
        patch.setenv("REPROSTACK_TRACEBACK", "1")  # raise, do not sys.exit, on an error
        for stage in stages:
            module = importlib.import_module(f"reprostack.stages.{stage}")
            _runner.run(module.main, stamp=stage != "record")
        from dvc.cli import main as dvc_main  # in process: a `dvc` process start costs seconds

        assert dvc_main(["commit", "-f", "-q"]) == 0, sys.stderr.getvalue()


def pack(root: Path) -> Path:
    """Pack a base's git objects (one pack instead of hundreds of loose files): every clone of it
    is copied, and every test directory deleted, in a fraction of the file operations."""
    git(root, "gc", "-q", "--prune=now")
    return root


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def build_project(dest: Path) -> Path:
    """A project whose pipeline has run (stand-in encoder) and whose outputs are committed."""
    root = copy_sources(dest)
    edit_conf(root, embedding={"model": STAND_IN})
    ensure_data(root)
    run_stages(root)
    commit_all(root, "pipeline run")
    return pack(root)


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
