"""Issue 25: `reprostack vectors search` for one query, cold (a CLI process that loads the
encoder) against warm (the same CLI asking this project's running `reprostack serve`).

A scratch copy of the project runs the pipeline once with the real model, releases and promotes
the classifier, then, in one run on the same machine:
- cold: `reprostack vectors search QUERY --local` (loads the encoder in a new process), 3 times;
- warm CLI: `reprostack vectors search QUERY` with the server running (discovered), 5 times;
- warm request: POST /search to the server from this process, 20 times (no process start).
Medians; target: warm under 1 s.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from bench_serve import request, start_serve
from common import VENV_BIN, env, project_params, project_texts, scratch_project, sh

QUERY = "will it rain tomorrow"


def run():
    project_texts()
    project = scratch_project()
    cache = tempfile.mkdtemp(prefix="reprostack-bench-cache-")
    environment = {**env(), "REPROSTACK_CACHE": cache}  # the server's announcement, and exports
    cli = str(VENV_BIN / "reprostack")
    server = None
    try:
        started = time.perf_counter()
        sh([str(VENV_BIN / "dvc"), "repro"], project)
        sh(["git", "add", "-A"], project)
        sh(["git", "commit", "-q", "-m", "bench"], project)
        name = project_params(project).model_name
        version = json.loads(sh([cli, "release", name, "--json"], project).stdout)["version"]
        sh([cli, "registry", "promote", name, version], project)
        yield f"pipeline run, released and promoted in {time.perf_counter() - started:.0f} s; load {os.getloadavg()[0]:.1f}"

        def search(*flags: str) -> float:
            t = time.perf_counter()
            subprocess.run(
                [cli, "vectors", "search", QUERY, *flags], cwd=project, env=environment, check=True, capture_output=True
            )
            return time.perf_counter() - t

        cold = [search("--local") for _ in range(3)]
        server, port, conn, _ = start_serve(project, name, environment)
        body = {"text": QUERY, "k": 5, "ref": "latest"}
        request(conn, "POST", "/search", body)  # warm-up: lancedb's first open
        warm = [search() for _ in range(5)]
        answered = []
        for _ in range(20):
            t = time.perf_counter()
            request(conn, "POST", "/search", body)
            answered.append(time.perf_counter() - t)
        c, w, r = statistics.median(cold), statistics.median(warm), statistics.median(answered)
        yield f"cold CLI (loads the encoder): median {c:.2f} s (runs {', '.join(f'{x:.2f}' for x in cold)})"
        yield (
            f"warm CLI (asks the running serve): median {w:.2f} s, {c / w:.1f}x faster; target < 1 s: "
            f"{'PASS' if w < 1 else 'FAIL'}"
        )
        yield f"warm request alone (POST /search): median {r * 1000:.1f} ms; load {os.getloadavg()[0]:.1f}"
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        subprocess.run(["chmod", "-R", "u+w", str(project.parent)], check=False)
        shutil.rmtree(project.parent, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
