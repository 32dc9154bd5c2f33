"""Helpers shared by the benchmarks: timing, scratch project copies and the project's data."""

from __future__ import annotations

import csv
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def env() -> dict:
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "HF_HUB_OFFLINE": "1",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }


def sh(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env(), check=True, capture_output=True, text=True)


def timed(cmd: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    sh(cmd, cwd)
    return time.perf_counter() - started


def median_time(cmd: list[str], cwd: Path, repeat: int) -> float:
    return statistics.median(timed(cmd, cwd) for _ in range(repeat))


def scratch_project() -> Path:
    """A git repository holding this project's files, as a clone would have them."""
    dest = Path(tempfile.mkdtemp(prefix="reprostack-bench-")) / "project"
    files = sh(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], REPO).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    sh(["git", "init", "-q", "-b", "main"], dest)
    sh(["git", "add", "-A"], dest)
    sh(["git", "commit", "-q", "-m", "bench"], dest)
    return dest


def project_params(root: Path = REPO):
    """root's params.yaml, validated. Its data section (conf/data/: raw_dir, file, the id, text and
    label column names) is where the benchmarks read and write data, so a project with its own
    CSV benchmarks its own data."""
    from reprostack.core import config

    return config.load_params(root / config.PARAMS_FILE)


@functools.cache
def project_texts(root: Path = REPO):
    """The project's labelled texts (a dataset.TextTable), for benchmarks that need a real corpus;
    without any, one line naming where to put them (SystemExit: no traceback)."""
    from reprostack.core.errors import ReprostackError
    from reprostack.data import dataset

    data = project_params(root).data
    path = root / data.raw_dir / data.file
    if not path.is_file():
        raise SystemExit(
            f"error: {path.relative_to(root)} does not exist; the benchmarks read the project's own "
            f"texts: put a CSV with the columns {data.id_column},{data.text_column},{data.label_column} "
            "there (conf/data/ names them), or run `make bench` in the template's repository"
        )
    try:
        return dataset.read_text_table(path, data.id_column, data.text_column, data.label_column)
    except ReprostackError as exc:
        raise SystemExit(f"error: {exc}") from None


def write_rows(project: Path, ids, texts, labels) -> Path:
    """Replace a scratch copy's data with these rows, in the file and under the column names its
    params.yaml configures; returns the file's path."""
    data = project_params(project).data
    path = project / data.raw_dir / data.file
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([data.id_column, data.text_column, data.label_column])
        writer.writerows(zip(ids, texts, labels))
    return path
