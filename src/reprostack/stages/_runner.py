"""Run a stage's body and turn a ReprostackError into one line on stderr and exit 1."""

from __future__ import annotations

import os
import sys
from typing import Callable

from reprostack.errors import ReprostackError


def run(body: Callable[[], None]) -> None:
    try:
        body()
    except ReprostackError as exc:
        stage = os.environ.get("DVC_STAGE") or body.__module__.rsplit(".", 1)[-1]
        print(f"error [{stage}]: {exc}", file=sys.stderr)
        if os.environ.get("REPROSTACK_TRACEBACK"):
            raise
        sys.exit(exc.exit_code)
