"""Everything a test run starts dies with it, also when pytest itself is killed with SIGKILL.

Servers (SeaweedFS, `reprostack serve`) and Ray's daemons run in their own sessions, so a killed
pytest's teardown never stops them (a SeaweedFS server once outlived its pytest by 53 minutes).
At start-up the pytest process (the xdist controller, not a worker) puts a per-run marker in
its environment, which every process started afterwards inherits (workers, servers, `ray start`
and the raylets it spawns), and starts one small reaper in a session of its own. The reaper
waits for that pytest's pid to vanish, then SIGKILLs every process of this user whose
environment carries the marker. A normal run has stopped them all by then; the reaper finds
none and exits.

Usage: conftest.py imports `pytest_configure` from here (so does a nested test's conftest).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

MARKER = "REPROSTACK_TEST_RUN"


def pytest_configure(config) -> None:
    if hasattr(config, "workerinput"):
        return  # a worker carries its controller's marker; the controller's reaper covers it
    start(os.getpid())


def start(watched: int) -> subprocess.Popen:
    """Mark this process's environment with a new run id and start the reaper watching `watched`."""
    token = secrets.token_hex(8)
    os.environ[MARKER] = token
    env = {k: v for k, v in os.environ.items() if k != MARKER}  # the reaper must not reap itself
    return subprocess.Popen(
        [sys.executable, __file__, str(watched), token],
        env=env,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _started(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat), None once it is gone or a zombie:
    with the start time, a recycled pid is never taken for the process we watch."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def marked(token: str) -> list[int]:
    """Pids of this user's processes whose environment carries the run's marker."""
    needle = f"{MARKER}={token}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = Path(entry.path, "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def reap(token: str, rounds: int = 10) -> int:
    """SIGKILL every marked process, again until none is left (a dying parent may have spawned
    one more); returns how many were killed."""
    killed = set()
    for _ in range(rounds):
        pids = [pid for pid in marked(token) if _started(pid) is not None]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.1)
    return len(killed)


def main(watched: int, token: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in pytest's terminal is pytest's
    since = _started(watched)
    while since is not None and _started(watched) == since:
        time.sleep(0.2)
    reap(token)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
