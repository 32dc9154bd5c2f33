"""Template benchmarks (issues 7, 16): time to render a new project, `cruft update` of a rendered
project across one template commit, and `make repro` inside one (warm environment).

Baselines, measured in the same run: for a render, copying this repository's tracked files into
a new git repository with one commit (common.scratch_project), what a render of the old
whole-platform shape could not avoid (a thin project copies a few dozen files); for
`cruft update`, one render, since cruft clones the template and renders it twice (at the
project's commit and the new one) before it diffs and applies.
The warm environment is template/warm_env.py: a pip-less venv reusing this venv's packages,
so `make repro` runs the pipeline without installing anything. REPROSTACK_BENCH_TEMPLATE_REPRO=0
leaves that part out (the full pipeline takes minutes; the render and update figures seconds).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, VENV_BIN, scratch_project, sh, timed

sys.path.insert(0, str(REPO / "template"))
import warm_env  # noqa: E402

REPEAT = 5
TARGET_S = 2.0
REPRO = os.environ.get("REPROSTACK_BENCH_TEMPLATE_REPRO", "1") != "0"


def render(template: Path, out: Path) -> Path:
    sh(
        [
            str(VENV_BIN / "cookiecutter"),
            str(template),
            "--directory",
            "template",
            "--no-input",
            "--output-dir",
            str(out),
            "project_name=Bench Project",
        ],
        REPO,
    )
    return out / "bench-project"


def median_of(action, repeat: int = REPEAT) -> float:
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run():
    scratch = Path(tempfile.mkdtemp(prefix="reprostack-bench-template-"))
    try:
        rendered = median_of(lambda i: render(REPO, scratch / f"render{i}"))
        copies = []
        copied = median_of(lambda i: copies.append(scratch_project()))
        for path in copies:
            shutil.rmtree(path.parent, ignore_errors=True)
        yield (
            f"render a project (cookiecutter --no-input, median of {REPEAT}): {rendered:.2f} s "
            f"(target < {TARGET_S:.0f} s); copy this repository's files + git init/commit: {copied:.2f} s; "
            f"ratio {rendered / copied:.2f}"
        )

        # cruft update across one template commit: a thin file and a shared one changed
        source = scratch_project()
        project = render(source, scratch / "followed")
        thin_makefile = source / "template" / "{{project_dir(cookiecutter.project_slug, cookiecutter)}}" / "Makefile"
        with thin_makefile.open("a") as makefile:
            makefile.write("# a template change\n")
        with (source / "conf" / "model" / "logreg.yaml").open("a") as config:
            config.write("# a shared change\n")
        sh(["git", "add", "-A"], source)
        sh(["git", "commit", "-qm", "one template commit"], source)

        def update(_):
            sh(["git", "reset", "-q", "--hard"], project)
            sh(["git", "clean", "-qfd"], project)
            sh([str(VENV_BIN / "cruft"), "update", "-y"], project)
            assert (project / "Makefile").read_text().endswith("# a template change\n")

        updated = median_of(update, 3)
        yield (
            f"cruft update across one template commit (median of 3): {updated:.2f} s; "
            f"one render: {rendered:.2f} s; ratio {updated / rendered:.2f}"
        )
        shutil.rmtree(source.parent, ignore_errors=True)
        if not REPRO:
            return

        sh(["git", "reset", "-q", "--hard"], project)
        sh(["git", "clean", "-qfd"], project)
        # after the reset, which rewrites requirements.lock: a lock newer than the venv's stamp
        # makes the Makefile rebuild the environment
        venv = warm_env.make_warm_venv(project, scratch / "venv")
        full = timed(["make", "repro", f"VENV={venv}"], project)
        yield f"make repro in a rendered project, warm environment, full pipeline on the sample data: {full:.1f} s"
        noop = timed(["make", "repro", f"VENV={venv}"], project)
        yield f"make repro again (no-op): {noop:.2f} s"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
