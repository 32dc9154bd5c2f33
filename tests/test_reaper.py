"""A server a test started dies with the test run, also when pytest is killed with SIGKILL
(tests/reaper.py): a real pytest runs a tiny test that starts a real server in a session of its
own, as SeaweedFS and `ray start` run, and is killed -9 while the server serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import reaper
from tools import request

TESTS = Path(__file__).parent

INNER = {
    # a loopback HTTP server in its own session, started and waited for as the tests start servers
    "http": """
        from tools import free_port, request
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                request(port, "/")
                break
            except OSError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
    """,
    # the server of the 53-minute incident, by the helper the store tests use
    "seaweedfs": """
        from reprostack.store import seaweed
        proc, url = seaweed.start(tmp_path / "weed")
    """,
}


def inner_test(kind: str) -> str:
    return (
        "import os, subprocess, sys, time\nfrom pathlib import Path\n\n\ndef test_serve(tmp_path):\n"
        + textwrap.indent(textwrap.dedent(INNER[kind]), "    ")
        + "    Path(os.environ['SERVER_FILE']).write_text(f'{proc.pid} {url}')\n    time.sleep(600)\n"
    )


def alive(pid: int) -> bool:
    return reaper._started(pid) is not None


@pytest.mark.parametrize("kind", ["http", pytest.param("seaweedfs", marks=pytest.mark.slow)])
def test_a_server_dies_with_its_pytest_killed_by_sigkill(kind, tmp_path):
    (tmp_path / "conftest.py").write_text("from reaper import pytest_configure  # noqa: F401\n")
    (tmp_path / "test_inner.py").write_text(inner_test(kind))
    server_file = tmp_path / "server"
    env = {
        **os.environ,
        "SERVER_FILE": str(server_file),
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    inner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_inner.py"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = None
    try:
        deadline = time.monotonic() + 90
        while not server_file.exists() and inner.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server_file.exists(), f"the inner test did not start its server (pytest exit {inner.poll()})"
        pid, url = server_file.read_text().split()
        server, port = int(pid), int(url.rsplit(":", 1)[1])
        assert alive(server) and request(port, "/")[0] in (200, 403)  # it serves
        assert os.getsid(server) == server  # in a session of its own: no signal to pytest's reaches it
        os.kill(inner.pid, signal.SIGKILL)
        assert inner.wait(10) == -signal.SIGKILL
        deadline = time.monotonic() + 5
        while alive(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(server), "the server outlived its killed pytest"
        with pytest.raises(OSError):
            request(port, "/")
    finally:  # never leave them behind, whatever failed above
        for pid in (inner.pid, server):
            if pid and alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_reaper_spares_processes_of_other_runs(tmp_path):
    """Only this run's marker is reaped: a process with another run's marker (or none) lives on."""
    other = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], env={**os.environ, reaper.MARKER: "another-run"}
    )
    mine = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], env={**os.environ, reaper.MARKER: "this-run"}
    )
    try:
        assert reaper.marked("this-run") == [mine.pid]
        assert reaper.reap("this-run") == 1 and mine.wait(5) == -signal.SIGKILL
        assert other.poll() is None
    finally:
        other.kill()
        mine.kill()
        other.wait()
