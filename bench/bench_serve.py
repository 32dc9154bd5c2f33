"""Issues 5 and 14: `reprostack serve` on loopback with the real embedding model.

POST /predict of one text per request from 1, 8 and 64 concurrent keep-alive clients: throughput
and p50/p99, against baselines measured in the same run, in process: raw batched encode + classify
(batch 64, the model's own encoder) for throughput (targets: >= 0.9x at 64 clients, >= 0.6x at 8)
and one text encode + classify for latency (target: p50 at 1 client <= 1.5x). The clients are
`wrk` (Debian's wrk, C: next to nothing of the 2 cores the server runs on), for
REPROSTACK_BENCH_SERVE_SECONDS each (default 10); without wrk, a Python client of threads, whose own
cost counts against the server (0.80x where wrk measured 0.92x), says so. Then the time from
`reprostack registry rollback` until GET /model reports the old version.

REPROSTACK_BENCH_SERVE_REQUESTS=n sets the requests of the Python client's 64-client run (default
1,600; 8 clients send n/2, one client n/8).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time

from common import VENV_BIN, env, project_params, project_texts, scratch_project, sh

TOTAL = int(os.environ.get("REPROSTACK_BENCH_SERVE_REQUESTS", 1_600))
REQUESTS = {1: max(1, TOTAL // 8), 8: max(8, TOTAL // 2), 64: max(64, TOTAL)}
SECONDS = int(os.environ.get("REPROSTACK_BENCH_SERVE_SECONDS", 10))
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies, i = {}, 0
for line in io.lines("%s") do bodies[#bodies + 1] = '{"texts": [' .. line .. ']}' end
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i %% #bodies) + 1])
end
"""


def wrk(port: int, clients: int, texts: list[str], scratch) -> tuple[float, float, float, int]:
    """req/s, p50 and p99 in ms, and requests, from `wrk` with `clients` keep-alive connections."""
    lines, script = scratch / "texts.jsonl", scratch / "post.lua"
    lines.write_text("\n".join(json.dumps(t) for t in texts) + "\n")
    script.write_text(WRK_SCRIPT % lines)
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, clients)}",
            f"-c{clients}",
            f"-d{SECONDS}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/predict",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if re.search(r"Non-2xx|Socket errors", out):
        raise RuntimeError(f"wrk saw failed requests:\n{out}")

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rate = float(re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M).group(1))
    done = int(re.search(r"^\s+(\d+) requests in", out, re.M).group(1))
    return rate, ms("50%"), ms("99%"), done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(conn: http.client.HTTPConnection, method: str, path: str, body=None) -> dict:
    conn.request(
        method, path, body=json.dumps(body) if body is not None else None, headers={"content-type": "application/json"}
    )
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
    return json.loads(data)


def start_serve(project, name: str, environment: dict):
    """`reprostack serve` of `name` on a free port: (process, port, a connection, GET /model)."""
    port = free_port()
    server = subprocess.Popen(
        [str(VENV_BIN / "reprostack"), "serve", "--model", name, "--port", str(port)],
        cwd=project,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            return server, port, conn, request(conn, "GET", "/model")
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("reprostack serve did not start") from None
            time.sleep(0.5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def release_two_versions(project):
    """Two releases of the project's classifier: as configured, then with another random_state (in
    conf/model/, which every classifier here has), so that the second is a different model file."""
    dvc, cli = str(VENV_BIN / "dvc"), str(VENV_BIN / "reprostack")
    conf = project / "conf" / "model" / f"{project_params(project).model.name}.yaml"
    for message, seed in (("first run", None), ("random_state=7", "7")):
        if seed:
            text, found = re.subn(r"^random_state: .*$", f"random_state: {seed}", conf.read_text(), count=1, flags=re.M)
            conf.write_text(text if found else text + "# bench: a second release\n")
        sh([dvc, "repro"], project)
        sh(["git", "add", "-A"], project)
        sh(["git", "commit", "-q", "-m", message], project)
        version = json.loads(sh([cli, "release", "textclf", "--json"], project).stdout)["version"]
        sh([cli, "registry", "promote", "textclf", version], project)


def python_clients(port: int, clients: int, total: int, texts: list[str]) -> tuple[float, float, float, int]:
    latencies: list[float] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine = []
        for i in range(k, total, clients):
            t = time.perf_counter()
            request(c, "POST", "/predict", {"texts": [texts[i % len(texts)]]})
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = len(latencies) / (time.perf_counter() - started)
    return rate, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, len(latencies)


def run():
    project_texts()  # the pipeline runs on the project's data: without any, one line saying where to put it
    project = scratch_project()
    server, cwd = None, os.getcwd()
    try:
        started = time.perf_counter()
        release_two_versions(project)
        yield f"pipeline run twice, two releases promoted in {time.perf_counter() - started:.0f} s"
        texts = list(project_texts(project).texts)

        os.chdir(project)  # the baseline loads the model the way predict does
        from reprostack.registry import loader

        model = loader.load_model("textclf")
        embed = loader.text_embedder(model.embedding)
        model.predict(texts[:64], embed)  # warm-up
        inproc = []
        for text in texts[:200]:
            t = time.perf_counter()
            model.predict([text], embed)
            inproc.append(time.perf_counter() - t)
        batched = []
        for _ in range(2):
            t = time.perf_counter()
            for start in range(0, len(texts), 64):
                model.predict(texts[start : start + 64], embed)
            batched.append(len(texts) / (time.perf_counter() - t))
        raw_rate, one_ms = max(batched), statistics.median(inproc) * 1000
        yield (
            f"baselines in process: batched encode + classify (batch 64) {raw_rate:.0f} texts/s; one text "
            f"{one_ms:.1f} ms median; load {os.getloadavg()[0]:.1f}"
        )

        server, port, conn, before = start_serve(project, "textclf", env())
        for text in texts[:64]:  # warm-up: every bucket width once
            request(conn, "POST", "/predict", {"texts": [text]})

        has_wrk = shutil.which("wrk") is not None
        yield (
            f"clients: wrk, {SECONDS} s a run"
            if has_wrk
            else "clients: Python threads on the server's cores (apt install wrk to measure the server alone)"
        )
        for clients, total in REQUESTS.items():
            if has_wrk:
                rate, p50, p99, done = wrk(port, clients, texts, project.parent)
            else:
                rate, p50, p99, done = python_clients(port, clients, total, texts)
            line = (
                f"{clients} client(s), {done} requests of one text: {rate:.0f} req/s "
                f"({rate / raw_rate:.2f}x batched in process), p50 {p50:.1f} ms ({p50 / one_ms:.2f}x one text "
                f"in process), p99 {p99:.1f} ms"
            )
            target = {
                1: ("p50", p50 / one_ms <= 1.5, "<= 1.5x"),
                8: ("throughput", rate / raw_rate >= 0.6, ">= 0.6x"),
                64: ("throughput", rate / raw_rate >= 0.9, ">= 0.9x"),
            }[clients]
            yield f"{line}; target {target[0]} {target[2]}: {'PASS' if target[1] else 'FAIL'}"
        yield f"load after: {os.getloadavg()[0]:.1f}"

        seen: dict[str, float] = {}

        def watch(started: float) -> None:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.perf_counter() - started < 30:
                if request(c, "GET", "/model")["version"] != before["version"]:
                    seen["at"] = time.perf_counter()
                    return
                time.sleep(0.01)

        started = time.perf_counter()
        watcher = threading.Thread(target=watch, args=(started,))
        watcher.start()
        subprocess.run(
            [str(VENV_BIN / "reprostack"), "registry", "rollback", "textclf", "--reason", "bench"],
            cwd=project,
            env=env(),
            check=True,
            capture_output=True,
        )
        command_done = time.perf_counter()
        watcher.join()
        after = request(http.client.HTTPConnection("127.0.0.1", port, timeout=30), "GET", "/model")
        yield (
            f"rollback {before['version']} -> {after['version']}: /model reported it {seen['at'] - started:.2f} s "
            f"after `registry rollback` started ({max(0.0, seen['at'] - command_done):.2f} s after it exited; "
            f"the command took {command_done - started:.2f} s)"
        )
    finally:
        os.chdir(cwd)
        if server is not None:
            server.terminate()
            server.wait(10)
        subprocess.run(["chmod", "-R", "u+w", str(project.parent)], check=False)
        shutil.rmtree(project.parent, ignore_errors=True)
