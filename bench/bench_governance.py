"""Issue 23 figures: `reprostack provenance` against a running server on the sample project (real
embedding model; goal under 3 s, a whole process), against a bare `reprostack --version` process
in the same run; and the bytes `reprostack gc` reclaims after 10 data-changing runs, 5 releases
and 3 promotions (the stand-in encoder, as the tests build it), against the disk those stores hold."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import REPO, VENV_BIN, env, median_time, scratch_project, sh


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _serving(project: Path, name: str):
    port = _port()
    proc = subprocess.Popen(
        [str(VENV_BIN / "reprostack"), "serve", "--model", name, "--port", str(port)],
        cwd=project,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def _du(paths: list[Path]) -> int:
    return sum(p.stat().st_size for base in paths if base.exists() for p in base.rglob("*") if p.is_file())


def run() -> list[str]:
    lines = []
    project = scratch_project()
    sh([str(VENV_BIN / "dvc"), "repro", "-q"], project)
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-q", "-m", "run"], project)
    import json

    import yaml

    model = yaml.safe_load((project / "params.yaml").read_text())["model_name"]
    sh([str(VENV_BIN / "reprostack"), "release"], project)
    version = json.loads(sh([str(VENV_BIN / "reprostack"), "registry", "list", "--json"], project).stdout)[0]["latest"]
    sh([str(VENV_BIN / "reprostack"), "registry", "promote", model, version], project)
    base = median_time([str(VENV_BIN / "reprostack"), "--version"], project, 5)
    with _serving(project, model) as url:
        took = median_time([str(VENV_BIN / "reprostack"), "provenance", "--url", url, "--out", "p.json"], project, 5)
    lines.append(
        f"provenance --url, production model, sample project (real model): {took:.2f} s a process "
        f"(goal < 3 s: {took / 3:.2f}x of it); bare `reprostack --version` {base:.2f} s, ratio {took / base:.1f}"
    )

    sys.path.insert(0, str(REPO / "tests"))
    import gc_scenario

    os.environ.update({k: v for k, v in env().items() if k.startswith("GIT_")})
    root = gc_scenario.build(
        Path(tempfile.mkdtemp(prefix="reprostack-bench-gc-")) / "p", 10, 2, ("v0.1.0", "v0.3.0", "v0.5.0")
    )
    stores = [root / ".dvc" / "cache", root / "data" / "vectors", root / "data" / "snapshots", root / "models"]
    before = _du(stores)
    out = sh([str(VENV_BIN / "reprostack"), "gc", "--json"], root)
    freed = json.loads(out.stdout)["bytes"]
    total = sum(freed.values())
    lines.append(
        f"gc after 10 runs, 5 releases, 3 promotions (hashing:16): reclaimed {total} bytes "
        f"({', '.join(f'{k} {v}' for k, v in freed.items() if v)}) of {before} bytes in those stores "
        f"({total / before:.0%}); after: {_du(stores)} bytes"
    )
    return lines
