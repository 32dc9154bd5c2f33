"""Run a stage's body: time it, leave a stamp, and turn a ReprostackError into one line.

Nothing here is a DVC output, so a rebuild that reproduces every output leaves dvc.lock byte for
byte the same. Two kinds of file under runs/stages/:

- stamps (`<stage>.json`: when the stage ran, how long, what it reports): local, ignored by git
  and DVC; the record stage moves them into the run record;
- markers, committed with their idle content and declared as DVC dependencies. A stage that
  starts adds its name to `pending-record.txt`, which the record stage depends on, so the record stage
  runs exactly when some stage ran (also when a stage re-ran and reproduced its previous outputs
  bit for bit); the record stage puts the idle content back, so DVC saves the same hash each time.
  Under `dvc exp run`, a stage that finds params.yaml differing from conf/ writes the differences
  into `params-drift.txt`, which the compose stage depends on: the next plain `dvc repro` runs
  compose, which puts conf/'s values back loudly and the marker's idle content too. Without that,
  the experiment's params would stay, `dvc status` clean, until someone noticed.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reprostack.core import errors, faults, interruption, jsonio, workspace, writer
from reprostack.core.errors import ReprostackError

PENDING_RECORD = "pending-record.txt"
PARAMS_DRIFT = "params-drift.txt"
IDLE = {
    PENDING_RECORD: "# Stages that ran since the last run record, one a line; the record stage empties this list.\n",
    PARAMS_DRIFT: "# Where params.yaml differs from conf/ after `dvc exp run -S`; `dvc repro` puts conf/ back.\n",
}


class Stamp(jsonio.Document):
    """runs/stages/<stage>.json: when the stage last ran (local; the run record keeps it)."""

    schema_version: int = 1
    stage: str
    started_utc: str
    finished_utc: str
    seconds: float
    nonce: str | None = None  # stamps were DVC outputs before schema-less markers; kept readable
    details: dict[str, Any] | None = None  # what the stage reports of how it ran (embed: its engine)


def stamp_dir() -> Path:
    from reprostack.core import config

    try:
        return Path(config.read_params_file().get("paths", {}).get("runs", "runs")) / "stages"
    except ReprostackError:
        return Path("runs") / "stages"


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def marker_lines(name: str) -> list[str]:
    """The marker's entries (its comment line aside); [] when idle or missing."""
    path = stamp_dir() / name
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def write_marker(name: str, lines: list[str]) -> None:
    """The marker with these entries; no entries is the idle content DVC has in dvc.lock."""
    text = IDLE[name] + "".join(f"{line}\n" for line in lines)
    path = stamp_dir() / name
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        jsonio.atomic_write_text(path, text)


def _mark_pending(stage: str) -> None:
    lines = marker_lines(PENDING_RECORD)
    if stage not in lines:
        write_marker(PENDING_RECORD, [*lines, stage])


def _mark_drift(stage: str) -> None:
    """Under `dvc exp run` only (compose itself resets the marker, see the module docstring)."""
    from reprostack.core import config

    if stage == "compose" or not os.environ.get("DVC_EXP_NAME"):
        return
    drift = config.drift()
    if drift:
        write_marker(PARAMS_DRIFT, [f"{key}: conf/ {old!r}, params.yaml {new!r}" for key, (old, new) in drift.items()])


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
    marker = stamp_dir() / PENDING_RECORD
    pending = marker.read_bytes() if marker.is_file() else None  # put back if the stage refuses
    try:
        workspace.link_shared()  # in `dvc exp run --temp` / `dvc queue start` workspaces only
        sweep()
        if stamp:  # first: a stage killed anywhere after this still has the record stage run next
            _mark_pending(stage)  # time, which sweeps what it left and records it if it completed
        faults.point(f"stage.{stage}.start")
        result = body()  # False when it changed nothing; a dict goes into the stamp as details
        stamped = result is not False
        if stamp and stamped:
            _mark_drift(stage)
        faults.point(f"stage.{stage}.before-stamp")
    except ReprostackError as exc:
        if stamp and pending is not None:  # a stage that refused (bad input) leaves the tree as it found
            jsonio.atomic_write_bytes(marker, pending)  # it; DVC re-runs it all the same
        elif stamp:
            marker.unlink(missing_ok=True)
        then = "" if "dvc repro" in str(exc) else "; then `dvc repro`"  # DVC removed the outputs: name the way back
        print(f"error [{stage}]: {exc}{then}", file=sys.stderr)
        if os.environ.get("REPROSTACK_TRACEBACK"):
            raise
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, Exception) as exc:  # Ctrl-C, a full disk, a torn table: one line
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
            details=result if isinstance(result, dict) else None,
        ),
    )
