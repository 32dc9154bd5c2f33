"""Issues 6 and 12: `runs reproduce` (exact: no re-embedding) vs the original full run; `verify` on
small and big projects."""

from __future__ import annotations

import json
import shutil
import subprocess

from bench_snapshots import N_FILES, TOTAL_MB, make_many
from common import VENV_BIN, project_params, project_texts, scratch_project, sh, timed


def run():
    project_texts()  # the pipeline runs on the project's data: without any, one line saying where to put it
    project = scratch_project()
    try:
        dvc, cli = str(VENV_BIN / "dvc"), str(VENV_BIN / "reprostack")
        original = timed([dvc, "repro", "--force"], project)
        sh(["git", "add", "-A"], project)
        sh(["git", "commit", "-q", "-m", "first run"], project)
        # the record just written was made from a clean tree, so it is reproducible
        run_id = json.loads(sh([cli, "runs", "show", "latest", "--json"], project).stdout)["run_id"]
        exact = timed([cli, "runs", "reproduce", run_id], project)
        yield (
            f"runs reproduce (exact, reads the run's table version): {exact:.1f} s vs original full run "
            f"{original:.1f} s: ratio {exact / original:.2f} (target <= 0.5)"
        )
        recompute = timed([cli, "runs", "reproduce", run_id, "--re-embed"], project)
        yield (
            f"runs reproduce --re-embed: {recompute:.1f} s vs original full run {original:.1f} s: "
            f"ratio {recompute / original:.2f}"
        )
        small = timed([cli, "verify"], project)
        yield f"verify, the project as it is: {small:.2f} s"
        # a directory of its own: a snapshot of data.raw_dir takes only data.file
        blobs = project / project_params(project).data.raw_dir / "blobs"
        make_many(blobs, TOTAL_MB << 20, N_FILES)
        sh([cli, "snapshot", "create", "--source", str(blobs), "--dataset", "blobs"], project)
        big = timed([cli, "verify"], project)
        yield f"verify, project with a {N_FILES}-file / {TOTAL_MB} MB snapshot (plus the project's own): {big:.2f} s"
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(project.parent)], check=False)
        shutil.rmtree(project.parent, ignore_errors=True)
