"""One writer per store, whoever started it, and stage processes that die with their `dvc repro`.

A lock held by the writing process itself (an flock on a file beside what it writes), not by
DVC: `kill -9` of `dvc repro` leaves its stage running (DVC's rwlock dies with DVC), and a
second `dvc repro` would then write the same table beside it. The kernel drops an flock when
its holder dies, however it dies, so a lock is never stale; the holder's pid is written into
the lock file for the message a refused writer shows.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reprostack.core.errors import ReprostackError

WAIT_ENV = "REPROSTACK_WRITER_WAIT"  # seconds a second writer waits for the first (default 10)
PR_SET_PDEATHSIG = 1


class WriterBusyError(ReprostackError):
    """Another live process is writing the same store."""


def lock_path(target: str | Path) -> Path:
    """The lock file of a store directory: beside it, so it exists before the store does."""
    target = Path(target)
    return target.parent / f".{target.name}.writer.lock"


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="utf-8").split()[0]
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except (OSError, IndexError):
        return "another process"
    return f"pid {pid} ({cmd[:80]})" if cmd else f"pid {pid}"


@contextmanager
def exclusive(target: str | Path, what: str, wait: float | None = None) -> Iterator[None]:
    """Hold the writer lock of `target` (a directory that may not exist yet); wait up to `wait`
    seconds (REPROSTACK_WRITER_WAIT, default 10) for a live holder, then refuse naming its pid."""
    import fcntl

    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    wait = float(os.environ.get(WAIT_ENV, "10")) if wait is None else wait
    fd, held = os.open(path, os.O_RDWR | os.O_CREAT, 0o644), False
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(path)
                    stop = f"`kill {holder.split()[1]}`" if holder.startswith("pid") else "stop it"
                    raise WriterBusyError(
                        f"{what} is being written by {holder}, which still runs (an earlier `dvc repro` "
                        f"or command that was interrupted; waited {wait:g} s, see {WAIT_ENV}); wait for it "
                        f"to finish or {stop}, then run again"
                    ) from None
                time.sleep(0.05)
        try:  # who holds it, for the message above; a full disk must not stop the writer here
            os.ftruncate(fd, 0)  # a holder that died left its pid
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass
        yield
    finally:
        if held:  # still held: the file never names a holder that is gone
            os.ftruncate(fd, 0)
        os.close(fd)  # drops the flock (so does the kernel when a holder dies, its pid left: read only while locked)


SHELLS = {"sh", "dash", "bash", "zsh", "ksh", "mksh", "fish"}


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 1


def _starter(parent: int) -> int:
    """The process that ran our command: DVC runs it as `$SHELL -c CMD`, and whether that shell
    execs CMD depends on the shell (bash does, dash does not), so step over shells that stay."""
    while parent > 1:
        argv = _argv(parent)
        if not argv or "-c" not in argv or Path(argv[0]).name not in SHELLS:
            break
        parent = _ppid(parent)
    return parent


def _die_with(pid: int) -> None:
    """SIGKILL ourselves once `pid` (an ancestor, not our parent) exits: the kernel's parent-death
    signal only watches the direct parent. A pidfd becomes readable when its process exits."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        fd = None
    except (OSError, AttributeError):
        return  # no pidfd here (Linux < 5.3): the parent-death signal alone
    if fd is None or _starter(os.getppid()) != pid:  # gone, or its pid reused, before we watched it
        _gone()

    def wait() -> None:
        select.select([fd], [], [])
        _gone()

    threading.Thread(target=wait, name="die-with-dvc", daemon=True).start()


def _gone() -> None:
    print("error: the `dvc repro` that started this stage is gone; stopping", file=sys.stderr)
    os.kill(os.getpid(), signal.SIGKILL)  # as the parent-death signal would: no cleanup that could write


def die_with_parent() -> None:
    """Linux: die when the `dvc repro` that started this stage dies. The kernel SIGKILLs us when
    our parent dies; when DVC's shell did not exec us (dash, DVC's default without $SHELL), the
    parent is that shell, which outlives DVC, so a thread also watches DVC itself. A parent that
    died before the call is caught by the check after it: we were re-parented to init or a reaper."""
    if not sys.platform.startswith("linux") or not os.environ.get("DVC_ROOT"):
        return  # only stage processes started by DVC (it sets DVC_ROOT)
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent or parent == 1:
        _gone()
    starter = _starter(parent)
    if starter not in (parent, 1):
        _die_with(starter)
