"""Running things from the tests: git, tools, the CLI in process, HTTP on loopback; and the
registry's observable state (what a failed command must leave unchanged)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


# The git identity and offline switches every test process runs with (conftest sets them per
# session; a test that builds a whole environment of its own starts from them).
ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DVC_NO_ANALYTICS": "1",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def sh(cwd: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command (a venv tool by bare name: dvc, reprostack, gto) and fail with its output."""
    tool = VENV_BIN / command[0]
    result = subprocess.run(
        [str(tool) if tool.exists() else command[0], *command[1:]], cwd=cwd, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def cli_process(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`reprostack ARGS` as its own process: what a kill -9, a signal or a closed pipe hits."""
    return subprocess.run(
        [str(VENV_BIN / "reprostack"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def killed_in_fork(root: Path, point: str, *args: str, timeout: float = 120) -> str:
    """`reprostack ARGS` SIGKILLed at the named kill point (reprostack.core.faults), in a forked
    copy of this process that calls cli.main: the library is already imported, so a kill costs
    ~0.14 s instead of ~0.47 s for a new Python. What is killed is the same: one process (and its
    unfinished git or dvc children), at exactly that line. Returns the child's stderr. Only for
    commands that never touch LanceDB, which is not fork-safe (tests/test_faults_registry.py
    keeps real exec'd kills too)."""
    import signal
    import tempfile
    import time
    import traceback

    from reprostack.core import faults

    err = Path(tempfile.mkstemp(prefix="killed-", suffix=".err")[1])
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.chdir(root)
            os.environ[faults.ENV] = point
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.dup2(os.open(err, os.O_WRONLY | os.O_TRUNC), 2)
            sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)
            from reprostack.cli import main

            code = main(list(args)) or 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    deadline = time.monotonic() + timeout
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"{point}: the forked command hung for {timeout} s: {err.read_text()}")
        time.sleep(0.01)
    message = err.read_text()
    err.unlink()
    status = done[1]
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
        point,
        os.waitstatus_to_exitcode(status),
        message,
    )
    return message


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """A failed command's one line (`error: ...`), asserting that it is one line."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error"), result.stderr
    return lines[0]


def fix_command(line: str) -> str:
    """The fix command an error line names last, between backquotes."""
    return line.rsplit("`", 2)[-2]


def verify_problems(root: Path) -> dict[str, list[str]]:
    """`reprostack verify --json`'s failing sections: {section: [finding, ...]}."""
    report = json.loads(run_cli(root, "verify", "--json").stdout)
    return {name: s["problems"] for name, s in report.items() if isinstance(s, dict) and s["problems"]}


def run_fix(root: Path, command: str) -> str:
    """Run a fix a finding printed, as a user pastes it (a shell, this venv first on PATH)."""
    done = subprocess.run(
        command,
        shell=True,
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    return command


# ---- the CLI in process, HTTP on loopback ---------------------------------------------------------


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


def run_cli(root: Path, *args: str) -> CliResult:
    """`reprostack ARGS` in process, in root: exit code, stdout and stderr as a subprocess gives."""
    from reprostack.cli import main

    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(root)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help, usage errors
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(cwd)
    return CliResult(code or 0, out.getvalue(), err.getvalue())


def stop_session(proc: subprocess.Popen) -> None:
    """Stop a process started with start_new_session=True, and what it started, by its pid:
    SIGTERM, then SIGKILL if it is still there 10 s later."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


@contextlib.contextmanager
def serving_process(root: Path, *args: str, timeout: float = 120):
    """`reprostack ARGS` (a `serve`) as its own process in its own session, on the `--port` it is
    given; yields (port, its log file) once /health answers, and is stopped by its pid at exit,
    also when the test fails (and by tests/reaper.py if pytest itself is killed)."""
    import tempfile
    import time

    port = int(args[args.index("--port") + 1])
    log = Path(tempfile.mkstemp(prefix="serve-", suffix=".log", dir=root.parent)[1])
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(VENV_BIN / "reprostack"), *args],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, f"serve exited with {proc.returncode}: {log.read_text()}"
            try:
                if request(port, "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"serve did not answer in {timeout} s: {log.read_text()}"
            time.sleep(0.1)
        yield port, log
    finally:
        stop_session(proc)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, path: str, body=None, raw: bytes | None = None, headers: dict | None = None):
    """(status, raw body bytes, headers) of one request to 127.0.0.1:port; POST when it has a body."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method="POST" if data is not None else "GET",
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def http(port, path, body=None):
    """(status, decoded JSON body) of one request."""
    status, raw, _ = request(port, path, body)
    return status, json.loads(raw)


# ---- the registry's observable state ----------------------------------------------------------------


def registry_state(root: Path) -> dict:
    """Everything a failed registry command must leave exactly as it was."""
    from reprostack.registry import catalog, history

    def read(rel):
        path = root / rel
        return path.read_bytes() if path.exists() else None

    return {
        "registry.json": read(catalog.REGISTRY_FILE),
        "history": read(history.HISTORY_FILE),
        "tags": sorted(git(root, "tag", "--list").split()),
        "HEAD": git(root, "rev-parse", "HEAD").strip(),
        "status": git(root, "status", "--porcelain", "--untracked-files=all"),
        "models": sorted(
            p.relative_to(root).as_posix() for p in (root / "models").rglob("*") if ".registry" not in p.name
        ),
    }
