"""One `dvc repro` of this project's pipeline, in a temporary copy with the library's stand-in
encoder (`embedding.model: hashing:32`: no model weights, seconds), checking its outputs and its
run record. The real model runs with `make repro`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from reprostack import api

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PARAMS = api.load_params(ROOT)


def copy_project(dest: Path) -> Path:
    """What a clone holds (tracked and new files, not ignored ones), as a git repository of its own."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def run(command: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def test_dvc_repro_runs_the_pipeline_and_records_the_run(tmp_path):
    if not (ROOT / PARAMS.data.raw_dir / PARAMS.data.file).is_file():
        pytest.skip(f"no data yet in {PARAMS.data.raw_dir}/{PARAMS.data.file}: nothing to run the pipeline on")
    project = copy_project(tmp_path / "project")
    chosen = PARAMS.embedding.model  # params.yaml is conf/ composed: find the embedding file selected
    embedding = next(
        p
        for p in (project / "conf" / "embedding").glob("*.yaml")
        if yaml.safe_load(p.read_text()).get("model") == chosen
    )
    embedding.write_text(re.sub(r"^model: .*$", "model: hashing:32", embedding.read_text(), count=1, flags=re.M))
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
    }
    for git in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "smoke"]):
        run(["git", *git], project, env)

    records = set((project / PARAMS.paths.runs).glob("*.json"))  # the copy holds this project's own
    # --force: every stage, whatever the copy's dvc.lock says about the outputs of earlier runs
    repro = run([str(BIN / "dvc"), "repro", "--force"], project, env)

    assert re.findall(r"Running stage '(\w+)'", repro.stdout) == [
        "compose",
        "snapshot",
        "embed",
        "train",
        "evaluate",
        "record",
    ]
    metrics = json.loads((project / PARAMS.paths.eval / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0
    card = json.loads((project / PARAMS.paths.candidate / "model.json").read_text())
    (record_file,) = set((project / PARAMS.paths.runs).glob("*.json")) - records
    record = json.loads(record_file.read_text())
    assert record["params"]["embedding"]["model"] == "hashing:32"
    assert record["data_snapshot"].startswith(f"{PARAMS.data.name}@")
    assert record["outputs"]["model"]["sha256"] == card["sha256"]
    assert record["outputs"]["metrics"] == metrics
