"""The API for run diffs and reports (see reprostack.api)."""

from __future__ import annotations

import time
from pathlib import Path

from reprostack.api._common import PARAMS, _params, _under
from reprostack.results import ReportResult, RunDiff

REPORTS_DIR = "reports"  # where `reprostack report` writes by default (git-ignored)


def diff_runs(
    a: str, b: str, *, include_same: bool = False, root: str | Path = ".", params_file: str | Path = PARAMS
) -> RunDiff:
    """What differs between two run records (ids, unique prefixes or 'latest'), section by section."""
    from reprostack.runs import diff, records

    runs_dir = _under(root, _params(root, params_file).paths.runs)
    first, second = (records.read_record(runs_dir, records.resolve_run_id(runs_dir, ref)) for ref in (a, b))
    return RunDiff(**diff.diff(first, second, include_same))


def report_release(
    name: str,
    version: str,
    *,
    output: str | Path | None = None,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> ReportResult:
    """Write the report of a released version (HTML + JSON sidecar; default reports/<name>-<version>.html),
    its lineage re-checked now."""
    from reprostack import report
    from reprostack.registry import catalog, history

    started = time.perf_counter()
    root = Path(root)
    params = _params(root, params_file)
    data = catalog.read(root, params.registry)
    catalog.require_version(data, name, version)
    found, page = report.release_report(root, params, data, history.read(root), name, version)
    return _written(found, page, output or root / REPORTS_DIR / f"{name}-{version}.html", started)


def report_run(
    run_id: str, *, output: str | Path | None = None, root: str | Path = ".", params_file: str | Path = PARAMS
) -> ReportResult:
    """Write the report of a run (an id, a unique prefix or 'latest'), compared with the run before it."""
    from reprostack import report
    from reprostack.api._runs import _registry_data
    from reprostack.runs import records

    started = time.perf_counter()
    root = Path(root)
    params = _params(root, params_file)
    runs_dir = _under(root, params.paths.runs)
    run_id = records.resolve_run_id(runs_dir, run_id)
    ids = sorted(p.stem for p in Path(runs_dir).glob("*.json"))
    record = records.read_record(runs_dir, run_id)
    before = ids.index(run_id)
    previous = records.read_record(runs_dir, ids[before - 1]) if before > 0 else None
    released = records.with_release(record, _registry_data(root, params))["outputs"]["model_version"]
    found, page = report.run_report(root, params, record, previous, released.split(", ") if released else [])
    return _written(found, page, output or root / REPORTS_DIR / f"run-{run_id}.html", started)


def _written(found: dict, page: str, output: str | Path, started: float) -> ReportResult:
    from reprostack import report

    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = report.write(path, found, page)
    return ReportResult(
        kind=found["kind"],
        title=found["title"],
        html=written["html"],
        json=written["json"],
        sha256=written["sha256"],
        bytes=len(page.encode("utf-8")),
        lineage_ok=bool(found.get("lineage_ok", True)),
        seconds=round(time.perf_counter() - started, 3),
    )
