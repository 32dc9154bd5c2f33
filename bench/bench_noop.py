"""Issue 25: a no-op `dvc repro` (everything up to date) against a bare one-stage DVC no-op.

A scratch copy of this project is built once (with the stand-in encoder `hashing:16`: what a
no-op costs does not depend on the encoder, and building with the real model would only make
the benchmark slower), then `dvc repro` on it and on bare_dvc_project (bench_skeleton) are
timed alternately, REPEAT times each; the median of each is compared. Target: at most 1.5x.
What the no-op pays for beyond the bare one: reading a seven-stage dvc.yaml and its params, and
checking every stage's deps, among them the library package directories a stage imports (DVC's
state database keeps their hashes by inode and mtime, so unchanged files are not read again).
"""

from __future__ import annotations

import re
import shutil
import statistics

from bench_skeleton import bare_dvc_project
from common import VENV_BIN, scratch_project, sh, timed

REPEAT = 7


def run():
    project = scratch_project()
    try:
        conf = project / "conf" / "embedding" / "minilm.yaml"
        conf.write_text(re.sub(r"(?m)^model: .*$", "model: hashing:16", conf.read_text()))
        dvc = str(VENV_BIN / "dvc")
        sh([dvc, "repro"], project)  # build once
        sh(["git", "add", "-A"], project)
        sh(["git", "commit", "-q", "-m", "built"], project)
        said = sh([dvc, "repro"], project).stdout.strip().splitlines()[-1]
        bare = bare_dvc_project(project.parent / "bare")
        times = {"project": [], "bare": []}
        for _ in range(REPEAT):
            times["project"].append(timed([dvc, "repro"], project))
            times["bare"].append(timed([dvc, "repro"], bare))
        noop, base = (statistics.median(times[k]) for k in ("project", "bare"))
        ratio = noop / base
        yield f"no-op dvc repro says: {said!r}"
        yield (
            f"no-op dvc repro (7 stages): {noop:.2f} s; bare one-stage no-op: {base:.2f} s (medians of {REPEAT}); "
            f"ratio {ratio:.2f}x (target <= 1.5) {'PASS' if ratio <= 1.5 else 'FAIL'}"
        )
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)
