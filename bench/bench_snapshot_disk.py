"""Issue 3 disk benchmark: raw + snapshot + DVC cache after the pipeline's snapshot stage.

Runs the real `dvc repro` of the compose and snapshot stages on a scratch copy of the project
with 20,000 extra files (BENCH_SNAPSHOT_MB in total, default 2048) in data/raw, then measures
with one `du` so that hard-linked files count once.
"""

from __future__ import annotations

import shutil
import subprocess

from bench_snapshots import N_FILES, TOTAL_MB, disk_mb, make_many, run_measured
from common import VENV_BIN, scratch_project


def run():
    project = scratch_project()
    try:
        make_many(project / "data" / "raw" / "blobs", TOTAL_MB << 20, N_FILES)
        # not committed: big data lives in DVC or elsewhere, never in git
        seconds, rss = run_measured([str(VENV_BIN / "dvc"), "repro", "compose", "snapshot"], project)
        raw_mb = disk_mb(project / "data" / "raw")
        total = disk_mb(project / "data" / "raw", project / "data" / "snapshots", project / ".dvc" / "cache")
        yield (f"`dvc repro` of compose + snapshot with {N_FILES} files / {TOTAL_MB} MB added to data/raw: "
               f"{seconds:.1f} s, peak RSS {rss:.0f} MB")
        yield f"disk: raw {raw_mb:.0f} MB; raw + snapshot + DVC cache {total:.0f} MB; ratio {total / raw_mb:.2f} (target <= 1.2)"
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(project.parent)], check=False)
        shutil.rmtree(project.parent, ignore_errors=True)
