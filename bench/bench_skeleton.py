"""Issue 2 benchmarks: full `make repro`, no-op `dvc repro` vs a bare DVC no-op, cold --help."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from common import VENV_BIN, median_time, project_texts, scratch_project, sh, timed

REPEAT = 5


def bare_dvc_project(root: Path) -> Path:
    """The cheapest possible DVC pipeline: one stage, one dep, one out."""
    root.mkdir(parents=True)
    sh(["git", "init", "-q"], root)
    sh([str(VENV_BIN / "dvc"), "init", "-q"], root)
    (root / "in.txt").write_text("x\n")
    (root / "dvc.yaml").write_text(
        "stages:\n  copy:\n    cmd: cp in.txt out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n"
    )
    sh(["git", "add", "-A"], root)
    sh(["git", "commit", "-q", "-m", "bare"], root)
    sh([str(VENV_BIN / "dvc"), "repro"], root)
    return root


def run():
    project_texts()  # the pipeline runs on the project's data: without any, one line saying where to put it
    project = scratch_project()
    venv = VENV_BIN.parent
    try:
        full = timed(["make", "repro", f"VENV={venv}"], project)
        yield f"make repro, full pipeline on the project's data (env built): {full:.1f} s"
        dvc = str(VENV_BIN / "dvc")
        noop = median_time([dvc, "repro"], project, REPEAT)
        bare = median_time([dvc, "repro"], bare_dvc_project(project.parent / "bare"), REPEAT)
        yield f"no-op dvc repro: {noop:.2f} s; bare one-stage no-op: {bare:.2f} s; ratio {noop / bare:.2f} (target <= 1.5)"
        helps = median_time([str(VENV_BIN / "reprostack"), "--help"], project, REPEAT)
        interp = median_time([sys.executable, "-c", "pass"], project, REPEAT)
        yield f"cold reprostack --help: {helps:.3f} s (target < 0.5); bare python startup {interp:.3f} s"
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)
