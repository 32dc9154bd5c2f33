"""Named kill points for fault-injection tests.

`REPROSTACK_KILL_AT=release.after-commit` (comma-separated for several) makes the process
SIGKILL itself when it reaches `faults.point("release.after-commit")`: the same as a `kill -9`
or a power cut at exactly that line, so tests can prove that the next command finishes or
undoes the interrupted one. Unset (always, outside tests), a point is one dict lookup.

`REPROSTACK_PAUSE_AT=stage.embed.writing` makes it sleep there instead (REPROSTACK_PAUSE_SECONDS,
default 60), so a test can act on a process held at a known line (kill its parent, start a
second writer).
"""

from __future__ import annotations

import os
import signal

ENV = "REPROSTACK_KILL_AT"
PAUSE_ENV = "REPROSTACK_PAUSE_AT"
INTERRUPT_ENV = "REPROSTACK_INTERRUPT_AT"  # SIGINT there instead: a Ctrl-C at exactly that line


def point(name: str) -> None:
    wanted = os.environ.get(ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
    interrupted = os.environ.get(INTERRUPT_ENV)
    if interrupted and name in interrupted.split(","):
        # Python raises KeyboardInterrupt only where SIGINT had its default handler at start: a
        # process started in the background by a shell inherits SIGINT ignored (as a terminal's
        # Ctrl-C never reaches it); the test means the foreground case
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.kill(os.getpid(), signal.SIGINT)
    paused = os.environ.get(PAUSE_ENV)
    if paused and name in paused.split(","):
        import sys
        import time

        print(f"paused at {name} (pid {os.getpid()})", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get("REPROSTACK_PAUSE_SECONDS", "60")))
