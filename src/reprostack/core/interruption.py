"""Ctrl-C and a full disk, as one line that says what happened, what was kept and what to do.

Neither is a bug, so neither may end in a traceback. Every write of ours is atomic or journaled
(a stage's outputs, a snapshot, a table version, a registry change), so an interruption leaves
the state from before it, or a journal the next command finishes or undoes: the lines say so.
"""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
# Lance and other native libraries raise their IO errors as OSError/RuntimeError with the
# operating system's text inside, and no errno
_NO_SPACE = re.compile(r"no space left on device|os error 28|disk quota exceeded", re.IGNORECASE)


def disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return True
    return isinstance(exc, OSError | RuntimeError | ValueError) and bool(_NO_SPACE.search(str(exc)))


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def _stage_output(stage: str) -> tuple[str, int]:
    """Where a stage writes, and about how much: a snapshot holds a copy of the raw data, a table
    version its texts and vectors (about twice it); the other stages write files of kilobytes."""
    from reprostack.core import config

    try:
        params = config.read_params_file()
        paths, data = params.get("paths", {}), params.get("data", {})
        raw = Path(data.get("raw_dir", "data/raw")) / data.get("file", "")
        size = raw.stat().st_size if raw.is_file() else 0
        return {
            "snapshot": (paths.get("snapshots", "data/snapshots"), size),
            "embed": (params.get("embedding", {}).get("uri", "data/vectors"), 2 * size),
            "train": (paths.get("candidate", "models/candidate"), 0),
            "evaluate": (paths.get("eval", "eval"), 0),
            "record": (paths.get("runs", "runs"), 0),
        }.get(stage, (config.PARAMS_FILE, 0))
    except Exception:  # noqa: BLE001 (advice only: never a second error while reporting the first)
        return ".", 0


def disk_full_line(exc: BaseException, then: str, where: str = ".", needed: int = 0) -> str:
    """Names the file being written (an OSError's destination), else where the writer writes
    (Lance's IO errors name no path), the free space there and what to free."""
    path = getattr(exc, "filename2", None) or getattr(exc, "filename", None) or where
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    return (
        f"disk full: no space left on the device writing {path} ({_size(free)} free there); free at least "
        f"{_size(max(needed, 1 << 20))} on that filesystem, then {then}"
    )


def stage_line(stage: str, exc: BaseException) -> str | None:
    """The stage's one line for a Ctrl-C or a full disk; None for anything else (a bug: traceback)."""
    if isinstance(exc, KeyboardInterrupt):
        return (
            "interrupted (Ctrl-C); nothing of this stage was kept: its writes are atomic and DVC removed "
            "its outputs, the earlier stages' results stand; run `dvc repro` to go on"
        )
    if disk_full(exc):
        where, needed = _stage_output(stage)
        return disk_full_line(exc, "`dvc repro` (it starts at this stage; nothing half-written is kept)", where, needed)
    return None


def command_line(command: str, exc: BaseException) -> str | None:
    """A `reprostack` command's one line for a Ctrl-C or a full disk; None for anything else."""
    if isinstance(exc, KeyboardInterrupt):
        return (
            f"interrupted (Ctrl-C): `reprostack {command}` stopped; a change it had begun was undone (the "
            "registry's journal undoes a half-made change, other writes are atomic), what it had finished "
            "is kept; `reprostack verify` shows the state"
        )
    if disk_full(exc):
        return disk_full_line(exc, f"run `reprostack {command}` again")
    return None
