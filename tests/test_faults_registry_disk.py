"""The registry on a full disk (a tmpfs filled to each level): promote and release either
complete or are refused with one line and change nothing (registry_faults.consistent)."""

import os
import subprocess

import pytest
from factories import clone, make_candidate
from registry_faults import NAME, consistent, state
from tools import run_cli as cli  # follow-up commands in process: the kills are what cross a process boundary

from reprostack.registry import catalog


@pytest.fixture
def small_disk(tmp_path):
    """A 96 MB tmpfs, unmounted whatever the test does (a mount left behind makes every later
    pytest fail to clean its temporary directories)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here (needs root in a container that allows mounts)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount, free_kb):
    """Leave free_kb of the tmpfs free; returns the filler to unlink."""
    filler, stat = mount / "filler", os.statvfs(mount)
    filler.write_bytes(b"\0" * max(0, stat.f_bavail * stat.f_frsize - free_kb * 1024))
    return filler


def _refused_and_unchanged(result, before, after):
    """A failed command is one line and changed nothing: never a failure that took effect."""
    lines = result.stderr.splitlines()  # release prints its progress first
    assert lines[-1].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    assert not any(line.startswith("error") for line in lines[:-1]), result.stderr
    assert after == before, result.stderr


@pytest.mark.slow
def test_promote_at_every_disk_full_level(production_once, small_disk):
    mount, survived = small_disk, []
    for free_kb in (0, 4, 8, 12, 16, 24, 32, 36, 40, 48, 56, 64, 96, 128, 256, 512):
        root = clone(production_once, mount / f"p{free_kb}")
        before = state(root)
        filler = _fill(mount, free_kb)
        result = cli(root, "registry", "promote", NAME, "v0.2.0")
        if result.returncode != 0:
            _refused_and_unchanged(result, before, state(root))
        filler.unlink()
        consistent(root)
        survived.append((free_kb, result.returncode))
        subprocess.run(["rm", "-rf", str(root)], check=True)
    assert len(survived) == 16
    print("disk-full levels (KB free, exit code):", survived)


def _release_state(root):
    folder = root / "models" / NAME
    return state(root), sorted(p.name for p in folder.iterdir()), (folder / ".gitignore").read_bytes()


@pytest.mark.slow
def test_release_at_every_disk_full_level(released, small_disk):
    mount, survived = small_disk, []
    template = released[0]  # already a copy of the session's released project
    make_candidate(template)
    for free_kb in (0, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096):
        root = clone(template, mount / f"r{free_kb}")
        before = _release_state(root)
        filler = _fill(mount, free_kb)
        result = cli(root, "release", NAME)
        if result.returncode != 0:
            _refused_and_unchanged(result, before, _release_state(root))
        filler.unlink()
        consistent(root)
        if result.returncode != 0:  # with space again, the next release starts clean
            again = cli(root, "release", NAME)
            assert again.returncode == 0, (free_kb, again.stderr)
            consistent(root)
        assert catalog.latest_version(catalog.read(root), NAME) == "v0.3.0"
        survived.append((free_kb, result.returncode))
        subprocess.run(["rm", "-rf", str(root)], check=True)
    assert len(survived) == 10
    print("release disk-full levels (KB free, exit code):", survived)
