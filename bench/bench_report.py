"""Issue 22: the report of a release (goal: under 2 s) against `reprostack registry list` on the
same project, as processes (what a user types), and in process (the API, warm); the report's
size. The project: this repository's sources, pipeline run with the tests' stand-in encoder,
two releases, the first promoted to production (so the report compares two versions)."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, VENV_BIN, median_time

REPEAT = 5


def _project() -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    import factories

    from reprostack.core import config
    from reprostack.registry import promotion, release

    root = factories.build_project(Path(tempfile.mkdtemp(prefix="reprostack-bench-report-")) / "project")
    name = factories.params_of(root).model_name
    release.release(root, name)
    factories.make_candidate(root)
    release.release(root, name)
    promotion.promote(root, config.load_params(root / "params.yaml"), name, "v0.1.0")
    return root


def run():
    from reprostack import api

    root = _project()
    name = api.load_params(root=root).model_name
    out = root.parent / "report.html"
    cli = str(VENV_BIN / "reprostack")
    baseline = median_time([cli, "registry", "list"], root, REPEAT)
    report = median_time([cli, "report", name, "v0.2.0", "-o", str(out)], root, REPEAT)
    yield f"`reprostack registry list` (baseline): {baseline:.2f} s (median of {REPEAT})"
    yield f"`reprostack report {name} v0.2.0`: {report:.2f} s, {report / baseline:.1f}x the baseline (goal: under 2 s)"
    api.report_release(name, "v0.2.0", output=out, root=root)  # warm: imports, vl-convert's engine
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = api.report_release(name, "v0.2.0", output=out, root=root)
        times.append(time.perf_counter() - started)
    yield f"in process (warm): {statistics.median(times):.3f} s; lineage ok: {result.lineage_ok}"
    sidecar = Path(result.json).stat().st_size
    yield f"report size: {result.bytes:,} bytes HTML (inline SVG, no script) + {sidecar:,} bytes JSON"
    stored = root / "models" / name / "v0.2.0" / "report.html"
    yield f"the release's own report: {stored.stat().st_size:,} bytes"
