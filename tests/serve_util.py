"""Running a serving app in uvicorn on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import contextlib
import threading
import time

from tools import free_port
from tools import request as http  # noqa: F401 (the serving tests' name for it)


@contextlib.contextmanager
def running(app):
    """Yield (port, server); the server is stopped on exit, also when the test fails."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=20)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield port, server
    finally:
        server.should_exit = True
        thread.join(30)
