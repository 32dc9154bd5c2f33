"""Shared fixtures: every test runs with an isolated HOME and git identity."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for key, value in {
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        "DVC_NO_ANALYTICS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    # stage commands run `python`; make it this interpreter's venv
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


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


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path / "project")


def write_csv(path: Path, rows: list[tuple], header=("id", "text", "label"), encoding="utf-8") -> Path:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """One SeaweedFS S3 server on loopback for the session (test_store_slow.py), stopped by its
    pid at teardown, also when a test fails. It accepts only the key pair below (so a test can
    try wrong credentials); tests export it as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""
    from types import SimpleNamespace

    from reprostack.store import seaweed as weed

    keys = {"AWS_ACCESS_KEY_ID": "reprostack-test", "AWS_SECRET_ACCESS_KEY": "reprostack-secret"}
    proc, endpoint = weed.start(tmp_path_factory.mktemp("seaweedfs"), keys["AWS_ACCESS_KEY_ID"],
                                keys["AWS_SECRET_ACCESS_KEY"])
    try:
        yield SimpleNamespace(endpoint=endpoint, env=keys, pid=proc.pid)
    finally:
        weed.stop(proc)
