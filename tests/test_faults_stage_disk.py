"""Issue 24: disk full in every stage is one line naming the path and the space to free, never a
traceback; the next `dvc repro` with space repairs everything. The project sits on a small
tmpfs (test_faults_registry_disk's fixture), each stage runs as DVC runs it (its own process)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from factories import clone
from test_faults_registry_disk import _fill, small_disk  # noqa: F401 (a fixture)
from tools import VENV_BIN

STAGES = ("snapshot", "embed", "train", "evaluate", "record")


def _stage(root, stage):
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "DVC_STAGE": stage}
    return subprocess.run(
        [sys.executable, "-m", f"reprostack.stages.{stage}"], cwd=root, capture_output=True, text=True, env=env
    )


@pytest.mark.slow
def test_each_stage_on_a_full_disk_says_so_in_one_line_and_the_next_repro_repairs(built_once, small_disk):  # noqa: F811
    root = clone(built_once, small_disk / "project")
    raw = root / "data" / "raw" / "texts.csv"
    raw.write_text(raw.read_text() + "".join(f"d{i},a new text on rates and markets {i},finance\n" for i in range(40)))
    refused, tracebacks = [], []
    for stage in STAGES:
        filler = _fill(small_disk, 0)
        try:
            result = _stage(root, stage)
        finally:
            filler.unlink()
        if "Traceback" in result.stderr:
            tracebacks.append((stage, result.stderr[-4000:]))
            continue
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
            assert len(lines) == 1 and "disk full" in lines[0] and "free" in lines[0], result.stderr
            assert "`dvc repro`" in lines[0], lines[0]
            refused.append(lines[0])
        assert _stage(root, stage).returncode == 0  # with space: the stage runs, the next has its inputs
    assert not tracebacks, tracebacks
    assert refused, "no stage met the full disk"
    repro = subprocess.run([str(VENV_BIN / "dvc"), "repro"], cwd=root, capture_output=True, text=True)
    assert repro.returncode == 0, repro.stdout + repro.stderr
    print("stages refused on a full disk, one line each:", *refused, sep="\n")
