import json
import os
import subprocess
import sys

import pytest

from reprostack import snapshot
from reprostack.errors import SnapshotError
from conftest import write_csv

ROWS = [("a", "kick off at noon", "sports"), ("b", "crème brûlée tonight", "cooking")]


@pytest.fixture
def raw(tmp_path):
    source = tmp_path / "raw"
    write_csv(source / "texts.csv", ROWS)
    (source / "nested" / "deeper").mkdir(parents=True)
    (source / "nested" / "deeper" / "blob.bin").write_bytes(os.urandom(3000))
    return source


def test_create_writes_manifest_sums_and_is_idempotent(raw, tmp_path):
    snap = snapshot.create(raw, tmp_path / "snaps", "ds")
    assert snap.version == snap.digest[:12]
    manifest = snapshot.load_manifest(snap.path)
    assert manifest["file_count"] == 2
    assert {f["path"] for f in manifest["files"]} == {"texts.csv", "nested/deeper/blob.bin"}
    assert next(f for f in manifest["files"] if f["path"] == "texts.csv")["rows"] == 2
    # plain sha256sum can check the snapshot without Python
    subprocess.run(["sha256sum", "--quiet", "-c", snapshot.SUMS], cwd=snap.path, check=True)
    again = snapshot.create(raw, tmp_path / "snaps", "ds")
    assert again == snap
    assert [p.name for p in (tmp_path / "snaps" / "ds").iterdir()] == [snap.version]


def test_changed_content_gives_new_version_and_keeps_old(raw, tmp_path):
    first = snapshot.create(raw, tmp_path / "snaps", "ds")
    write_csv(raw / "texts.csv", ROWS + [("c", "rain all day", "weather")])
    second = snapshot.create(raw, tmp_path / "snaps", "ds")
    assert second.version != first.version
    assert snapshot.verify(first.path) == [] and snapshot.verify(second.path) == []


def test_snapshot_files_are_read_only(raw, tmp_path):
    snap = snapshot.create(raw, tmp_path / "snaps", "ds")
    mode = (snap.path / "texts.csv").stat().st_mode
    assert not mode & 0o222
    assert not (snap.path).stat().st_mode & 0o222


def test_verify_names_changed_missing_and_extra_files(raw, tmp_path):
    snap = snapshot.create(raw, tmp_path / "snaps", "ds")
    (snap.path).chmod(0o755)
    target = snap.path / "texts.csv"
    target.chmod(0o644)
    target.write_text("id,text,label\nz,tampered,sports\n")
    (snap.path / "nested" / "deeper").chmod(0o755)
    (snap.path / "nested" / "deeper" / "blob.bin").unlink()
    (snap.path / "new.txt").write_text("sneaked in")
    assert snapshot.verify(snap.path) == ["missing: nested/deeper/blob.bin", "changed: texts.csv", "extra: new.txt"]
    with pytest.raises(SnapshotError, match="changed: texts.csv"):
        snapshot.require_verified(snap.path)


def test_hand_broken_manifest_is_a_clear_error(raw, tmp_path):
    snap = snapshot.create(raw, tmp_path / "snaps", "ds")
    manifest = snap.path / snapshot.MANIFEST
    snap.path.chmod(0o755)
    manifest.chmod(0o644)
    manifest.write_text('{"dataset": "ds", ')
    with pytest.raises(SnapshotError, match="is not valid JSON"):
        snapshot.verify(snap.path)


def test_symlink_outside_source_is_rejected(raw, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    (raw / "link.txt").symlink_to(outside)
    with pytest.raises(SnapshotError, match="symlink points outside"):
        snapshot.create(raw, tmp_path / "snaps", "ds")
    assert not (tmp_path / "snaps" / "ds").exists() or not any((tmp_path / "snaps" / "ds").iterdir())


def test_pointer_round_trip(raw, tmp_path):
    snap = snapshot.create(raw, tmp_path / "snaps", "ds")
    snapshot.write_pointer(tmp_path / "snapshot.json", snap)
    assert snapshot.read_pointer(tmp_path / "snapshot.json") == snap
    assert json.loads((tmp_path / "snapshot.json").read_text())["schema_version"] == 1


@pytest.mark.parametrize("content,expected", [
    (b"", "the file is empty"),
    ("id,text\na,hello\n".encode(), "missing column(s) label"),
    ("id,text,label\na,caf\xe9,x\n".encode("latin-1"), "not UTF-8"),
])
def test_snapshot_stage_rejects_bad_csv_and_leaves_nothing(project, content, expected):
    (project / "data" / "raw" / "texts.csv").write_bytes(content)
    result = subprocess.run([sys.executable, "-m", "reprostack.stages.snapshot"], cwd=project,
                            capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0] and "data/raw/texts.csv" in lines[0]
    assert not (project / "data" / "snapshots" / "sample").exists()
    assert not (project / "data" / "snapshot.json").exists()
