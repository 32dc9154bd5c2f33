"""The API for run records, their reproduction and verify (see reprostack.api)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reprostack.results import (
    Check,
    ReproduceResult,
    VerifyReport,
)

if TYPE_CHECKING:  # pragma: no cover
    from reprostack.core.config import Params
    from reprostack.runs.records import RunRecord

from reprostack.api._common import PARAMS, _params, _under


def _registry_data(root: str | Path, params: Params) -> dict | None:
    from reprostack.registry import catalog

    return catalog.read(root, params.registry) if (Path(root) / catalog.REGISTRY_FILE).exists() else None


def list_runs(root: str | Path = ".", params_file: str | Path = PARAMS) -> list[RunRecord]:
    """Every run record, oldest first, each with outputs.model_version naming its releases."""
    from reprostack.runs import records

    params = _params(root, params_file)
    registry = _registry_data(root, params)
    return [
        records.RunRecord.model_validate(records.with_release(r, registry))
        for r in records.list_records(_under(root, params.paths.runs))
    ]


def show_run(run_id: str, root: str | Path = ".", params_file: str | Path = PARAMS) -> RunRecord:
    """One run record: an id, a unique prefix of one, or 'latest'."""
    from reprostack.runs import records

    params = _params(root, params_file)
    runs_dir = _under(root, params.paths.runs)
    record = records.read_record(runs_dir, records.resolve_run_id(runs_dir, run_id))
    return records.RunRecord.model_validate(records.with_release(record, _registry_data(root, params)))


def reproduce_run(
    run_id: str,
    *,
    re_embed: bool = False,
    allow_dirty: bool = False,
    keep: bool = False,
    progress: Callable[[str], None] | None = None,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> ReproduceResult:
    """Re-run a run from its commit in a temporary worktree and compare its outputs with the record."""
    from reprostack.runs import records, reproduce

    runs_dir = _params(root, params_file).paths.runs
    run_id = records.resolve_run_id(_under(root, runs_dir), run_id)
    found = reproduce.reproduce(
        root,
        runs_dir,
        run_id,
        re_embed=re_embed,
        allow_dirty=allow_dirty,
        keep=keep,
        progress=progress or (lambda line: None),
    )
    from reprostack.runs import reproductions

    # every verdict is kept: reports show it, conf/policy.yaml's `reproduce` rule reads it
    saved = reproductions.save(_under(root, runs_dir), found)
    found["saved"] = Path(os.path.relpath(saved, root)).as_posix()
    top = {
        name: found.pop(name) for name in ("run_id", "commit", "mode", "verdict", "reproduced", "seconds", "worktree")
    }
    return ReproduceResult(**top, comparison=found)


def verify(
    root: str | Path = ".", fix: bool = False, on_section: Callable[[str, Check], None] | None = None
) -> VerifyReport:
    """Re-check everything a release depends on; fix: first remove what killed processes left
    behind and re-create stage tags the history made that are gone (the findings fixed in place).
    `on_section(name, check)` hears each section as it finishes (the whole takes seconds)."""
    from reprostack.core import config
    from reprostack.registry import audit
    from reprostack.runs import integrity, tablecheck
    from reprostack.runs import verify as checks
    from reprostack.store import sync

    root = Path(root)
    params = config.load_params(root / config.PARAMS_FILE)
    removed = (
        integrity.fix_leftovers(root, params) + audit.restore_tags(root, params) + tablecheck.fix_table(root, params)
        if fix
        else None
    )
    finished = _finish_gc(root, params)  # an interrupted `reprostack gc` is finished, as registry changes are
    if finished:
        removed = [*(removed or []), finished]
    steps = {
        "environment": lambda: checks.check_environment(root),
        "params": lambda: checks.check_params(root),
        "snapshots": lambda: checks.check_snapshots(root, params),
        "vectors": lambda: checks.check_vectors(root, params),
        "models": lambda: checks.check_models(root, params),
        "metrics": lambda: integrity.check_metrics(root, params),
        "runs": lambda: integrity.check_runs(root, params),
        "leftovers": lambda: integrity.check_leftovers(root, params),
        "registry": lambda: audit.check_registry(root, params),
        "store": lambda: sync.check_verify(root),
    }
    sections = {}
    for name, step in steps.items():
        sections[name] = Check(**step())
        if on_section is not None:
            on_section(name, sections[name])
    return VerifyReport(sections=sections, removed=removed)


def _finish_gc(root: Path, params) -> str | None:
    from reprostack.gc import collect
    from reprostack.registry import catalog

    if not collect.journal_path(root).exists():
        return None
    with catalog.locked(root, params.registry.lock_timeout):
        return collect.finish(root, params)
