"""Run a stage's body: time it, leave a stamp, and turn a ReprostackError into one line.

The stamp (runs/stages/<stage>.json, a declared DVC output of every stage) changes on each
execution, so the record stage, which depends on all stamps, runs exactly when some stage did:
also when a stage re-ran and reproduced its previous outputs bit for bit.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reprostack.core import errors, faults, interruption, jsonio, workspace, writer
from reprostack.core.errors import ReprostackError


class Stamp(jsonio.Document):
    """runs/stages/<stage>.json: when the stage last ran; the nonce makes every run's stamp new."""

    schema_version: int = 1
    stage: str
    started_utc: str
    finished_utc: str
    seconds: float
    nonce: str
    details: dict[str, Any] | None = None  # what the stage reports of how it ran (embed: its engine)


def stamp_dir() -> Path:
    from reprostack.core import config

    try:
        return Path(config.read_params_file().get("paths", {}).get("runs", "runs")) / "stages"
    except ReprostackError:
        return Path("runs") / "stages"


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sweep() -> None:
    """Remove temp files a killed stage left in the pipeline's output directories. Safe here:
    DVC runs one stage of a repository at a time, and nothing else writes those paths."""
    from reprostack.core import config, leftovers

    try:
        params = config.load_params()
    except ReprostackError:
        return  # the stage itself reports a broken params.yaml
    for path in leftovers.pipeline_temp_files(params.paths):
        path.unlink(missing_ok=True)


def run(body: Callable[[], None], stamp: bool = True) -> None:
    module = body.__module__
    if module == "__main__":  # run as `python -m reprostack.stages.<stage>` outside DVC
        module = getattr(sys.modules["__main__"].__spec__, "name", module)
    stage = os.environ.get("DVC_STAGE") or module.rsplit(".", 1)[-1]
    started = time.time()
    writer.die_with_parent()  # an orphan of a killed `dvc repro` must not write beside the next one
    try:
        workspace.link_shared()  # in `dvc exp run --temp` / `dvc queue start` workspaces only
        sweep()
        faults.point(f"stage.{stage}.start")
        result = body()  # False when it changed nothing; a dict goes into the stamp as details
        stamped = result is not False
        faults.point(f"stage.{stage}.before-stamp")
    except ReprostackError as exc:
        then = "" if "dvc repro" in str(exc) else "; then `dvc repro`"  # DVC removed the outputs: name the way back
        print(f"error [{stage}]: {exc}{then}", file=sys.stderr)
        if os.environ.get("REPROSTACK_TRACEBACK"):
            raise
        sys.exit(exc.exit_code)
    except Exception as exc:  # Ctrl-C is handled below; a full disk, a torn table: one line
        _interrupted(stage, exc)
    except KeyboardInterrupt as exc:
        _interrupted(stage, exc)
    finished = time.time()
    if not stamp or not stamped:
        return
    try:
        _save_stamp(stage, started, finished, result)
    except (KeyboardInterrupt, OSError) as exc:
        _interrupted(stage, exc)


def _interrupted(stage: str, exc: BaseException) -> None:
    """Ctrl-C or a full disk: one line saying what was kept and what to do (core/interruption.py);
    anything else is a bug and keeps its traceback."""
    line = interruption.stage_line(stage, exc)
    if line is None:  # a torn table's reader error: one line, not a Rust traceback
        found = errors.lance_io(exc)
        line = str(found) if found else None
    if line is None or os.environ.get("REPROSTACK_TRACEBACK"):
        raise exc
    print(f"error [{stage}]: {line}", file=sys.stderr)
    sys.exit(130 if isinstance(exc, KeyboardInterrupt) else 1)


def _save_stamp(stage: str, started: float, finished: float, result) -> None:
    jsonio.save(
        stamp_dir() / f"{stage}.json",
        Stamp(
            stage=stage,
            started_utc=_utc(started),
            finished_utc=_utc(finished),
            seconds=round(finished - started, 3),
            nonce=secrets.token_hex(8),
            details=result if isinstance(result, dict) else None,
        ),
    )
