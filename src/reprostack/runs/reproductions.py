"""Saved reproduce verdicts: runs/reproductions/<run_id>-<UTC time>.json, one per `runs
reproduce`, never overwritten; reports show a run's newest, and the promotion policy's
`reproduce` rule reads it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from reprostack.core import jsonio

FOLDER = "reproductions"


def save(runs_dir: str | Path, result: dict) -> Path:
    path = Path(runs_dir) / FOLDER / f"{result['run_id']}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}Z.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    jsonio.atomic_write_bytes(path, jsonio.dumps({**result, "schema_version": 1}).encode("utf-8"), exclusive=True)
    return path


def latest(runs_dir: str | Path, run_id: str | None) -> dict | None:
    """The run's newest saved verdict, or None (none saved, or unreadable)."""
    if not run_id:
        return None
    saved = sorted((Path(runs_dir) / FOLDER).glob(f"{run_id}-*.json"))
    try:
        return json.loads(saved[-1].read_text(encoding="utf-8")) if saved else None
    except (OSError, ValueError):
        return None
