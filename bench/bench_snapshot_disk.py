"""Issue 13 disk benchmark: what copy-on-write snapshots cost, per way files enter a snapshot.

A raw data directory of N_FILES files (BENCH_DISK_MB in total, default 512) is snapshotted three ways:
`copy` on this machine's filesystem (ext4 here: no reflinks, so a byte copy), `hardlink` (the
opt-in), and `copy` on a loop-mounted XFS with reflinks (when mkfs.xfs and mounting are
available: root in a container). Disk is raw + snapshot: `du` on one filesystem (hard links
count once), the filesystem's own used-bytes delta on the private XFS (du counts shared
extents twice). Times are for `snapshot.create`, with the hardlink run as the baseline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench_snapshots import disk_mb, make_many

TOTAL_MB = int(os.environ.get("BENCH_DISK_MB", "512"))
N_FILES = 2_000


def _create(raw: Path, snaps: Path, link: str) -> float:
    from reprostack.data import snapshot

    started = time.perf_counter()
    snapshot.create(raw, snaps, "bench", link=link)
    return time.perf_counter() - started


def _used_mb(path: Path) -> float:
    usage = shutil.disk_usage(path)
    return usage.used / (1 << 20)


def _xfs(scratch: Path):
    if not shutil.which("mkfs.xfs") or os.geteuid() != 0:
        return None
    image, mount = scratch / "xfs.img", scratch / "xfs"
    mount.mkdir()
    with open(image, "wb") as handle:
        handle.truncate((TOTAL_MB * 3 + 300) << 20)
    subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], check=True)
    if subprocess.run(["mount", "-o", "loop", str(image), str(mount)], capture_output=True).returncode != 0:
        return None
    return mount


def run():
    scratch = Path(tempfile.mkdtemp(prefix="reprostack-bench-disk-"))
    mount = None
    try:
        raw = scratch / "raw"
        make_many(raw, TOTAL_MB << 20, N_FILES)
        raw_mb = disk_mb(raw)
        times = {}
        for link in ("hardlink", "copy"):
            snaps = scratch / f"snaps-{link}"
            times[link] = _create(raw, snaps, link)
            total = disk_mb(raw, snaps)
            yield (
                f"{link:8s} on {_fs(scratch)}: raw {raw_mb:.0f} MB, raw + snapshot {total:.0f} MB, "
                f"disk ratio {total / raw_mb:.2f}; {times[link]:.2f} s ({times[link] / times['hardlink']:.1f}x hardlink)"
            )
        mount = _xfs(scratch)
        if mount is None:
            yield "reflink: skipped (needs mkfs.xfs and root to loop-mount a reflink filesystem)"
            return
        xraw = mount / "raw"
        make_many(xraw, TOTAL_MB << 20, N_FILES)
        subprocess.run(["sync"], check=False)
        before = _used_mb(mount)
        seconds = _create(xraw, mount / "snaps", "copy")
        subprocess.run(["sync"], check=False)
        added = _used_mb(mount) - before
        yield (
            f"copy     on xfs (reflink): raw {TOTAL_MB} MB, snapshot added {added:.0f} MB on disk, "
            f"disk ratio {(TOTAL_MB + added) / TOTAL_MB:.2f}; {seconds:.2f} s ({seconds / times['hardlink']:.1f}x "
            "hardlink on the other filesystem)"
        )
    finally:
        if mount is not None:
            subprocess.run(["umount", str(mount)], check=False)
        subprocess.run(["chmod", "-R", "u+w", str(scratch)], check=False)
        shutil.rmtree(scratch, ignore_errors=True)


def _fs(path: Path) -> str:
    out = subprocess.run(["df", "--output=fstype", str(path)], capture_output=True, text=True).stdout.split()
    return out[-1] if out else "?"
