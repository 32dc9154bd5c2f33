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
_PATH = re.compile(r"(/[^\s'\",:]+)")


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


def _input_size(stage: str) -> int:
    """What a stage writes is about the size of the data it reads: the raw data for the snapshot
    and the table, the table for the stages after it."""
    from reprostack.core import config

    try:
        params = config.read_params_file()
        where = {"snapshot": params["data"]["raw_dir"], "embed": params["data"]["raw_dir"]}.get(stage, ".dvc/tmp")
    except Exception:  # noqa: BLE001 (advice only: never a second error while reporting the first)
        where = "."
    where = Path(where)
    if where.is_file():
        return where.stat().st_size
    return sum(p.stat().st_size for p in where.rglob("*") if p.is_file()) if where.is_dir() else 0


def where_written(exc: BaseException) -> Path:
    """The path the failed write names (an OSError's filename, a path in a native error's text),
    else the working directory."""
    name = getattr(exc, "filename", None) or (m.group(1) if (m := _PATH.search(str(exc))) else None)
    path = Path(name) if name else Path.cwd()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_full_line(exc: BaseException, then: str, needed: int = 0) -> str:
    path = where_written(exc)
    free = shutil.disk_usage(path).free
    need = f"at least {_size(max(needed, 1 << 20) * 2)} (twice what it writes)" if needed else "some space"
    return (
        f"disk full: no space left on the device writing {getattr(exc, 'filename', None) or path} "
        f"({_size(free)} free there); free {need} on that filesystem, then {then}"
    )


def stage_line(stage: str, exc: BaseException) -> str | None:
    """The stage's one line for a Ctrl-C or a full disk; None for anything else (a bug: traceback)."""
    if isinstance(exc, KeyboardInterrupt):
        return (
            "interrupted (Ctrl-C); nothing of this stage was kept: its writes are atomic and DVC removed "
            "its outputs, the earlier stages' results stand; run `dvc repro` to go on"
        )
    if disk_full(exc):
        return disk_full_line(
            exc, "`dvc repro` (it starts at this stage; nothing half-written is kept)", _input_size(stage)
        )
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
