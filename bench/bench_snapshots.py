"""Issue 3 benchmarks: snapshot create and verify against `sha256sum` on the same files.

Sizes default to the issue's (one 2 GB file; 20,000 files totalling 2 GB); set
BENCH_SNAPSHOT_MB to scale both down for a quick run. Peak RSS is the child's ru_maxrss.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from common import VENV_BIN, env, scratch_project, sh

TOTAL_MB = int(os.environ.get("BENCH_SNAPSHOT_MB", "2048"))
N_FILES = 20_000
REPEAT = 3


def write_random(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        left = size
        while left > 0:
            # vary each block cheaply so files do not deduplicate
            chunk = (left.to_bytes(8, "little") + block)[: min(left, 1 << 20)]
            handle.write(chunk)
            left -= len(chunk)


def make_many(root: Path, total: int, count: int) -> None:
    size = total // count
    block = os.urandom(size + 64)
    for i in range(count):
        path = root / f"d{i % 100:02d}" / f"f{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(i.to_bytes(8, "little") + block[i % 64 : i % 64 + size - 8])


def run_measured(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, _, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (None, 0):
        raise RuntimeError(proc.stderr.read().decode())
    return elapsed, usage.ru_maxrss / 1024


def sha256sum_cmd(root: Path) -> list[str]:
    return ["bash", "-c", f"cd {root} && find . -type f -print0 | xargs -0 sha256sum > /dev/null"]


def median_measured(cmd, cwd, before=None):
    runs = []
    for _ in range(REPEAT):
        if before:
            before()
        runs.append(run_measured(cmd, cwd))
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def disk_mb(*paths: Path) -> float:
    out = subprocess.run(["du", "-sck", *map(str, paths)], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1].split()[0]) / 1024


def bench_case(project: Path, name: str, source: Path) -> list[str]:
    cli = str(VENV_BIN / "reprostack")
    snaps = project / "data" / "snapshots"
    lines = []
    sh(["bash", "-c", f"find {source} -type f -print0 | xargs -0 cat > /dev/null"], project)  # warm the page cache

    def fresh():
        target = snaps / name
        if target.exists():
            sh(["chmod", "-R", "u+w", str(target)], project)
            shutil.rmtree(target)

    ref, _ = median_measured(sha256sum_cmd(source), project)
    one_core = median_measured(
        [
            str(VENV_BIN / "python"),
            "-c",
            "import sys; from reprostack.data.hashing import hash_files; from pathlib import Path; "
            f"hash_files([p for p in Path('{source}').rglob('*') if p.is_file()], workers=1)",
        ],
        project,
    )[0]
    create, create_rss = median_measured(
        [cli, "snapshot", "create", "--source", str(source), "--dataset", name], project, before=fresh
    )
    version = sorted(p.name for p in (snaps / name).iterdir() if not p.name.startswith("."))[0]
    verify, verify_rss = median_measured([cli, "snapshot", "verify", "--dataset", name, version], project)
    lines.append(f"{name}: sha256sum {ref:.2f} s; python sha256 on one core {one_core:.2f} s")
    lines.append(
        f"{name}: create {create:.2f} s, ratio {create / ref:.2f} vs sha256sum, {create / one_core:.2f} vs one core; "
        f"peak RSS {create_rss:.0f} MB"
    )
    lines.append(
        f"{name}: verify {verify:.2f} s, ratio {verify / ref:.2f} vs sha256sum, {verify / one_core:.2f} vs one core; "
        f"peak RSS {verify_rss:.0f} MB"
    )
    return lines


def run():
    project = scratch_project()
    try:
        big = project.parent / "one-big"
        write_random(big / "big.bin", TOTAL_MB << 20)
        many = project.parent / "many"
        make_many(many, TOTAL_MB << 20, N_FILES)
        yield f"data: one {TOTAL_MB} MB file; {N_FILES} files totalling {TOTAL_MB} MB"
        for line in bench_case(project, "onebig", big):
            yield line
        for line in bench_case(project, "many", many):
            yield line

        # dvc add of the same 20,000 files, in a bare DVC repo, with this project's cache config
        bare = project.parent / "dvc-add"
        bare.mkdir()
        sh(["git", "init", "-q"], bare)
        sh([str(VENV_BIN / "dvc"), "init", "-q"], bare)
        sh([str(VENV_BIN / "dvc"), "config", "cache.type", "hardlink"], bare)
        sh(["cp", "-al", str(many), str(bare / "many")], bare)
        ref, _ = median_measured(sha256sum_cmd(many), project)
        added, add_rss = run_measured([str(VENV_BIN / "dvc"), "add", "many"], bare)
        yield f"dvc add of the {N_FILES} files: {added:.2f} s, ratio {added / ref:.2f} vs sha256sum; peak RSS {add_rss:.0f} MB"

    finally:
        subprocess.run(["chmod", "-R", "u+w", str(project.parent)], check=False)
        shutil.rmtree(project.parent, ignore_errors=True)
