"""Issue 5 benchmarks: promote and rollback with 1,000 versions (vs `gto assign` on the same
tags), and 8 processes x 50 promotes at once (no lost update, throughput)."""

from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, VENV_BIN, env, scratch_project, sh, timed

N_VERSIONS = 1000
PROCS, PROMOTES = 8, 50
NAME = "bench"


def build(project: Path) -> None:
    """1,000 released versions: one commit and one annotated `bench@vX` tag each (git
    fast-import), a model file per version, registry.json listing them all in dev."""
    from reprostack.core import config, jsonio
    from reprostack.data import snapshot
    from reprostack.data.hashing import sha256_bytes
    from reprostack.registry import history

    params = config.load_params(project / "params.yaml")
    snap = snapshot.create(project / params.data.raw_dir, project / params.paths.snapshots, params.data.name)
    model_bytes = pickle.dumps({"weights": list(range(1000))}, protocol=5)  # verified, never unpickled here
    head = sh(["git", "rev-parse", "HEAD"], project).stdout.strip()
    epoch = int(time.time()) - 3600
    stream, entries = [], []
    for i in range(1, N_VERSIONS + 1):
        version = f"v0.0.{i}"
        stream += [
            "commit refs/heads/main",
            f"mark :{i}",
            f"committer bench <b@example.invalid> {epoch} +0000",
            "data 8",
            "release\n" + ("from " + head if i == 1 else f"from :{i - 1}"),
            f"M 644 inline bench/{i}.txt",
            "data 2",
            f"{i % 10}\n",
        ]
        for tag, message in ((f"{NAME}@{version}", "release"), (f"{NAME}#dev#{i}", "dev")):
            stream += [
                f"tag {tag}",
                f"from :{i}",
                f"tagger bench <b@example.invalid> {epoch} +0000",
                f"data {len(message)}",
                message,
            ]
        path = project / "models" / NAME / version / "model.pkl"
        path.parent.mkdir(parents=True)
        path.write_bytes(model_bytes)
        entries.append(
            {
                "version": version,
                "stage": "dev",
                "created_at": "2026-01-01T00:00:00Z",
                "git": {"tag": f"{NAME}@{version}", "commit": None},
                "model": {
                    "path": f"models/{NAME}/{version}/model.pkl",
                    "sha256": sha256_bytes(model_bytes),
                    "classes": ["a", "b"],
                },
                "metrics": {"accuracy": 0.9},
                "params_sha256": "0" * 64,
                "data": {"dataset": snap.dataset, "snapshot": snap.version, "digest": snap.digest},
                "vectors": {"table": "texts", "version": 1, "tag": None},
                "run_id": f"run-{i}",
            }
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=project, input="\n".join(stream) + "\n", text=True, check=True, env=env()
    )
    sh(["git", "checkout", "-q", "-f", "main"], project)
    commits = sh(["git", "rev-list", "--reverse", f"{head}..main"], project).stdout.split()
    parents = [head, *commits[:-1]]
    for entry, parent in zip(entries, parents):
        entry["git"]["commit"] = parent
    jsonio.write_json(
        project / "models" / "registry.json", {"models": [{"name": NAME, "versions": entries}]}, schema_version=1
    )
    # the release events that made those tags, so `verify` finds no stage tag without its change
    (project / history.HISTORY_FILE).write_text(
        "".join(
            history.line(
                history.event(
                    "release",
                    NAME,
                    [history.change(e["version"], None, "dev")],
                    "",
                    "bench",
                    [e["git"]["tag"], f"{NAME}#dev#{i}"],
                )
            )
            for i, e in enumerate(entries, 1)
        )
    )
    sh(["git", "add", "models/registry.json", str(history.HISTORY_FILE)], project)
    sh(["git", "commit", "-q", "-m", "registry with 1000 versions"], project)


def median_of(commands: list[list[str]], cwd: Path) -> tuple[float, float]:
    """Median wall time and median CPU time (user + sys of the command and its git children):
    CPU time shows what an idle machine would take when other jobs share the cores."""
    walls, cpus = [], []
    for command in commands:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        walls.append(timed(command, cwd))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def run():
    project = scratch_project()
    try:
        # a user's reprostack has its bytecode compiled (pip does it; the first run writes it):
        # time that, also where PYTHONDONTWRITEBYTECODE is set (it would add ~30 ms of compiling)
        sh([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], project)
        cli, gto = str(VENV_BIN / "reprostack"), str(VENV_BIN / "gto")
        started = time.perf_counter()
        build(project)
        yield f"built {N_VERSIONS} versions, {2 * N_VERSIONS} tags in {time.perf_counter() - started:.1f} s"
        promote, promote_cpu = median_of(
            [[cli, "registry", "promote", NAME, f"v0.0.{i}", "--reason", "bench"] for i in range(1, 6)], project
        )
        rollback, rollback_cpu = median_of(
            [[cli, "registry", "rollback", NAME, "--reason", "bench"] for _ in range(5)], project
        )
        load = os.getloadavg()[0]
        yield (
            f"promote, {N_VERSIONS} versions, whole process (median of 5): {promote:.3f} s wall, "
            f"{promote_cpu:.3f} s CPU (target < 0.3; load average {load:.1f} on {os.cpu_count()} cores)"
        )
        yield f"rollback, whole process (median of 5): {rollback:.3f} s wall, {rollback_cpu:.3f} s CPU (target < 0.3)"
        # gto reads every tag object on each call: seconds with 2,000 tags, so only two runs
        assign, assign_cpu = median_of(
            [[gto, "assign", NAME, "--version", f"v0.0.{i}", "--stage", "canary"] for i in range(900, 902)], project
        )
        yield (
            f"gto assign on the same {N_VERSIONS} versions (median of 2): {assign:.3f} s wall, {assign_cpu:.3f} s "
            f"CPU; ratio promote/gto {promote / assign:.3f} (CPU {promote_cpu / assign_cpu:.3f}), "
            f"rollback/gto {rollback / assign:.3f} (CPU {rollback_cpu / assign_cpu:.3f})"
        )
        # gto's canary tags are not ours: remove them so the registry and GTO agree again
        for tag in sh(["git", "tag", "--list", f"{NAME}#canary#*"], project).stdout.split():
            sh(["git", "tag", "-d", tag], project)
        before = len(promotes(project))
        script = (
            "import sys; from reprostack.cli import main\n"
            "first = int(sys.argv[1])\n"
            f"sys.exit(max(main(['registry', 'promote', '{NAME}', f'v0.0.{{v}}', '--reason', 'load'])"
            f" for v in range(first, first + {PROMOTES})))"
        )
        started = time.perf_counter()
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(100 + p * PROMOTES)],
                cwd=project,
                env=env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for p in range(PROCS)
        ]
        codes = [w.wait() for w in workers]
        wall = time.perf_counter() - started
        errors = [w.stderr.read().strip() for w in workers if w.returncode]
        done = len(promotes(project)) - before
        registry = json.loads((project / "models" / "registry.json").read_text())
        production = [v["version"] for v in registry["models"][0]["versions"] if v["stage"] == "production"]
        yield (
            f"{PROCS} processes x {PROMOTES} promotes at once: {done} new history entries (expected "
            f"{PROCS * PROMOTES}), exit codes {sorted(set(codes))}, {len(production)} in production; "
            f"{wall:.1f} s, {done / wall:.1f} promotes/s" + (f"; errors: {errors[:2]}" if errors else "")
        )
        verify = subprocess.run(
            [
                sys.executable,
                "-c",
                "from reprostack.core import config; from reprostack.registry import audit; "
                "import json; p = config.load_params('params.yaml'); "
                "print(json.dumps(audit.check_registry(__import__('pathlib').Path('.'), p)))",
            ],
            cwd=project,
            env=env(),
            capture_output=True,
            text=True,
        )
        report = json.loads(verify.stdout) if verify.returncode == 0 else {"problems": [verify.stderr[-300:]]}
        yield f"afterwards, registry vs `gto show`: {'agree' if not report['problems'] else report['problems'][:3]}"
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(project.parent)], check=False)
        shutil.rmtree(project.parent, ignore_errors=True)


def promotes(project: Path) -> list[str]:
    log = project / "models" / "registry-history.jsonl"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if '"action": "promote"' in line]
