"""Issue 7 benchmarks: time to render a new project, and `make repro` inside one (warm environment).

Render baseline, measured in the same run: copying the same tracked files into a new git
repository with one commit (common.scratch_project), i.e. the work a render cannot avoid.
The warm environment is template/warm_env.py: a pip-less venv reusing this venv's packages,
so `make repro` runs the pipeline without installing anything.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, VENV_BIN, scratch_project, sh, timed

sys.path.insert(0, str(REPO / "template"))
import warm_env  # noqa: E402

REPEAT = 3
TARGET_S = 5.0


def render(out: Path) -> Path:
    sh([str(VENV_BIN / "cookiecutter"), str(REPO), "--directory", "template", "--no-input",
        "--output-dir", str(out), "project_name=Bench Project"], REPO)
    return out / "bench-project"


def run():
    scratch = Path(tempfile.mkdtemp(prefix="reprostack-bench-template-"))
    try:
        renders = []
        for i in range(REPEAT):
            started = time.perf_counter()
            project = render(scratch / f"render{i}")
            renders.append(time.perf_counter() - started)
        copies = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            copied = scratch_project()
            copies.append(time.perf_counter() - started)
            shutil.rmtree(copied.parent, ignore_errors=True)
        rendered, copied = statistics.median(renders), statistics.median(copies)
        yield (f"render a project (cookiecutter --no-input, median of {REPEAT}): {rendered:.2f} s "
               f"(target < {TARGET_S:.0f} s); copy tracked files + git init/commit: {copied:.2f} s; "
               f"ratio {rendered / copied:.2f}")

        venv = warm_env.make_warm_venv(project, scratch / "venv")
        full = timed(["make", "repro", f"VENV={venv}"], project)
        yield f"make repro in a rendered project, warm environment, full pipeline on the sample data: {full:.1f} s"
        noop = timed(["make", "repro", f"VENV={venv}"], project)
        yield f"make repro again (no-op): {noop:.2f} s"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
