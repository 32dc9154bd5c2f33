"""Issue 13, data side: copy-on-write, re-hash, leftovers, bad inputs (resumable migrate:
test_faults_migrate.py; kill -9 in the real pipeline: test_faults_pipeline.py).

Kills are real SIGKILLs at named points (reprostack.core.faults, REPROSTACK_KILL_AT). Every end
state is checked twice: by `verify` (or the module's own check) and independently (sha256 of
the outputs, the table's tags and content).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest
from factories import params_of, write_csv
from tools import VENV_BIN, fix_command, one_line_error
from tools import run_cli as cli  # in process: the kills in this module are their own processes

from reprostack.core import leftovers
from reprostack.core.errors import DataError, SnapshotError, VectorStoreError
from reprostack.data import cow, dataset, snapshot
from reprostack.vectors import lance_table, search

ROWS = [("a", "kick off at noon", "sports"), ("b", "crème brûlée tonight", "cooking")]


# ---- copy-on-write --------------------------------------------------------------------------


def test_place_copies_by_default_and_hardlinks_only_on_request(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(5000))
    how = cow.place(src, tmp_path / "a")
    assert how in ("reflink", "copy") and (tmp_path / "a").stat().st_ino != src.stat().st_ino
    assert cow.place(src, tmp_path / "b", "hardlink") == "hardlink"
    assert (tmp_path / "b").stat().st_ino == src.stat().st_ino
    with pytest.raises(ValueError):
        cow.place(src, tmp_path / "c", "symlink")


def test_writing_into_a_raw_file_in_place_never_reaches_the_snapshot(tmp_path):
    """The issue's root `cp new.csv data/raw/texts.csv`: cp writes into the existing inode."""
    raw = tmp_path / "raw"
    write_csv(raw / "texts.csv", ROWS)
    snap = snapshot.create(raw, tmp_path / "snaps", "ds")
    before = hashlib.sha256((snap.path / "texts.csv").read_bytes()).hexdigest()
    other = write_csv(tmp_path / "new.csv", ROWS + [("c", "rain", "weather")])
    subprocess.run(["cp", str(other), str(raw / "texts.csv")], check=True)
    assert snapshot.verify(snap.path) == []
    assert hashlib.sha256((snap.path / "texts.csv").read_bytes()).hexdigest() == before


@pytest.fixture
def xfs(tmp_path):
    """A small loop-mounted XFS with reflinks (skipped where mkfs.xfs or mounting is missing)."""
    if not shutil.which("mkfs.xfs") or os.geteuid() != 0:
        pytest.skip("needs mkfs.xfs (apt install xfsprogs) and root to mount a loop device")
    image, mount = tmp_path / "xfs.img", tmp_path / "xfs"
    mount.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(300 << 20)
    subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], check=True)
    if subprocess.run(["mount", "-o", "loop", str(image), str(mount)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a loop device here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_snapshot_on_a_reflink_filesystem_shares_blocks_not_the_inode(xfs):
    raw = xfs / "raw"
    raw.mkdir()
    (raw / "big.bin").write_bytes(os.urandom(40 << 20))
    write_csv(raw / "texts.csv", ROWS)
    used = shutil.disk_usage(xfs).used
    assert cow.place(raw / "big.bin", xfs / "clone.bin") == "reflink"
    snap = snapshot.create(raw, xfs / "snaps", "ds")
    assert (snap.path / "big.bin").stat().st_ino != (raw / "big.bin").stat().st_ino
    assert shutil.disk_usage(xfs).used - used < 8 << 20  # two 40 MB clones cost (almost) nothing
    with open(raw / "big.bin", "r+b") as handle:  # a write into the source: copy-on-write
        handle.write(b"x" * 4096)
    assert snapshot.verify(snap.path) == []


# ---- re-hash before trusting an existing snapshot -------------------------------------------


def test_damaged_snapshot_is_an_error_naming_the_file_and_the_printed_repair_fixes_it(project):
    data = params_of(project).data
    assert cli(project, "snapshot", "create").returncode == 0
    version_dir = next((project / "data" / "snapshots" / data.name).iterdir())
    target = version_dir / data.file
    target.chmod(0o644)
    with open(target, "a") as handle:
        handle.write("z,tampered,sports\n")
    line = one_line_error(cli(project, "snapshot", "create"))
    assert data.file in line and "--repair" in line
    assert cli(project, *shlex.split(fix_command(line))[1:]).returncode == 0
    assert cli(project, "snapshot", "verify", version_dir.name).returncode == 0
    assert not list(version_dir.parent.glob(".tmp-*"))


# ---- leftovers -----------------------------------------------------------------------------


def test_killed_snapshot_leaves_a_staging_dir_that_the_next_run_removes(tmp_path):
    raw = tmp_path / "raw"
    write_csv(raw / "texts.csv", ROWS)
    script = f"from reprostack.data import snapshot; snapshot.create({str(raw)!r}, {str(tmp_path / 's')!r}, 'ds')"
    child = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "REPROSTACK_KILL_AT": "snapshot.before-rename"}
    )
    assert child.returncode == -9
    assert len(list((tmp_path / "s" / "ds").glob(".tmp-*"))) == 1
    snap = snapshot.create(raw, tmp_path / "s", "ds")
    assert [p.name for p in (tmp_path / "s" / "ds").iterdir()] == [snap.version]
    assert snapshot.verify(snap.path) == []


def test_live_staging_dirs_are_left_alone(tmp_path):
    mine = tmp_path / f"{leftovers.staging_prefix()}x"
    mine.mkdir()
    dead = tmp_path / ".tmp-999999999-x"
    dead.mkdir()
    assert leftovers.dead_staging(tmp_path) == [dead]


def test_verify_reports_leftovers_and_fix_removes_them(project):
    assert cli(project, "snapshot", "create").returncode == 0
    left = [
        project / "data" / ".snapshot.json.abc123.tmp",
        project / "runs" / "stages" / ".train.json.x.tmp",
        project / "data" / "vectors" / "texts.lance" / "data" / ".tmp_part_1",
    ]
    for path in left:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("partial")
    staging = project / "data" / "snapshots" / params_of(project).data.name / ".tmp-999999999-abc"
    (staging / "sub").mkdir(parents=True)
    report = json.loads(cli(project, "verify", "--json").stdout)
    found = report["leftovers"]["problems"]
    assert len(found) == 4 and all("reprostack verify --fix" in p for p in found)
    fixed = json.loads(cli(project, "verify", "--fix", "--json").stdout)
    assert len(fixed["removed"]) == 4 and fixed["leftovers"]["problems"] == []
    assert not any(p.exists() for p in [*left, staging])


# ---- bad inputs: one line, non-zero exit, nothing changed -------------------------------------


def test_a_1_mb_text_reads_and_a_17_mb_one_is_one_line(tmp_path):
    path = write_csv(tmp_path / "t.csv", [("a", "w " * 500_000, "x"), ("b", "short", "y")])
    assert len(dataset.read_text_table(path, "id", "text", "label").texts[0]) > 900_000
    write_csv(path, [("a", "w" * (17 << 20), "x"), ("b", "short", "y")])
    with pytest.raises(DataError, match=r"t.csv:\d+: field larger than field limit"):
        dataset.read_text_table(path, "id", "text", "label")


def test_thin_labels_are_named():
    assert dataset.thin_labels(["a"] * 10 + ["b"], 0.2) == {"b": 1}
    assert dataset.thin_labels(["a"] * 10 + ["b"] * 5, 0.2) == {}


def test_snapshot_stage_warns_on_a_label_too_thin_for_the_split(project):
    data = params_of(project).data
    rows = [(str(i), f"text {i}", "big") for i in range(20)] + [("z", "lonely", "rare")]
    write_csv(project / data.raw_dir / data.file, rows, header=(data.id_column, data.text_column, data.label_column))
    result = subprocess.run(
        [sys.executable, "-m", "reprostack.stages.snapshot"], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 0 and "label 'rare' has only 1 example" in result.stderr


def test_where_takes_one_expression(tmp_path):
    from test_vectors import put

    put(tmp_path / "db")
    table = lance_table.open_table(lance_table.connect(str(tmp_path / "db")), "t")
    before = table.version
    with pytest.raises(VectorStoreError, match="more than one statement"):
        search.check_where(table, "label = 'x'; DROP TABLE texts")
    search.check_where(table, "label = 'a;b'")  # a ';' inside a string literal is data
    assert table.version == before and table.count_rows() == 3


def test_a_closed_pipe_is_a_quiet_exit(project):
    assert cli(project, "snapshot", "create").returncode == 0
    child = subprocess.Popen(
        [str(VENV_BIN / "reprostack"), "snapshot", "list"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    child.stdout.close()  # `| head` that has read enough
    _, err = child.communicate()
    assert child.returncode == 141 and b"Traceback" not in err and err == b""


def test_history_of_an_unknown_model_is_an_error(project):
    line = one_line_error(cli(project, "registry", "history", "nope"))
    assert "no model 'nope'" in line


def test_snapshot_create_with_bad_input_changes_nothing(project):
    before = sorted(p.name for p in (project / "data").rglob("*"))
    one_line_error(cli(project, "snapshot", "create", "--dataset", "../x"))
    one_line_error(cli(project, "snapshot", "create", "--source", "nowhere"))
    assert sorted(p.name for p in (project / "data").rglob("*")) == before


def test_repair_refuses_nothing_when_the_snapshot_is_fine(tmp_path):
    raw = tmp_path / "raw"
    write_csv(raw / "texts.csv", ROWS)
    first = snapshot.create(raw, tmp_path / "s", "ds")
    assert snapshot.create(raw, tmp_path / "s", "ds", repair=True) == first
    (first.path / "texts.csv").chmod(0o644)
    (first.path / "texts.csv").write_text("id,text,label\n")
    with pytest.raises(SnapshotError, match="is damaged"):
        snapshot.create(raw, tmp_path / "s", "ds")
