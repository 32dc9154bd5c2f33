"""The registry's exclusive lock: every registry change, and recovery, runs under it, so
concurrent commands serialise (registry/catalog.py re-exports it as `catalog.locked`)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reprostack.core.errors import RegistryError

LOCK_FILE = Path("models") / ".registry.lock"


@contextmanager
def locked(root: str | Path, timeout: float) -> Iterator[None]:
    """Hold the registry's exclusive lock (filelock, an flock); wait up to `timeout` seconds for
    another holder. The holder's pid goes in a file beside the lock, for the error a waiter shows."""
    from filelock import FileLock, Timeout

    path = Path(root) / LOCK_FILE
    owner = path.with_name(path.name + ".owner")
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=timeout, poll_interval=0.005)  # promotes take ms: poll at that scale
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = owner.read_text(encoding="utf-8").strip() or "another process"
        except OSError:
            holder = "another process"
        raise RegistryError(
            f"the model registry is locked by {holder}; another registry command is running: "
            f"wait for it and retry (waited {timeout:g} s, see registry.lock_timeout)"
        ) from None
    try:
        try:  # who holds it, for the message above; a full disk must not stop the command here
            owner.write_text(f"pid {os.getpid()} since {time.strftime('%H:%M:%S')}", encoding="utf-8")
        except OSError:
            pass
        yield
    finally:
        owner.unlink(missing_ok=True)  # before the release, so it never names the next holder wrongly
        lock.release()
