"""Named kill points for fault-injection tests.

`REPROSTACK_KILL_AT=release.after-commit` (comma-separated for several) makes the process
SIGKILL itself when it reaches `faults.point("release.after-commit")`: the same as a `kill -9`
or a power cut at exactly that line, so tests can prove that the next command finishes or
undoes the interrupted one. Unset (always, outside tests), a point is one dict lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "REPROSTACK_KILL_AT"


def point(name: str) -> None:
    wanted = os.environ.get(ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
