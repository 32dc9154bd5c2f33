import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from factories import write_csv

from reprostack.core import config
from reprostack.core.errors import HashingError, SnapshotError
from reprostack.data import manifest, snapshot
from reprostack.data.hashing import hash_file

ROWS = [("a", "kick off at noon", "sports"), ("b", "crème brûlée tonight", "cooking")]


@pytest.fixture
def raw(tmp_path):
    source = tmp_path / "raw"
    write_csv(source / "texts.csv", ROWS)
    (source / "nested" / "deeper").mkdir(parents=True)
    (source / "nested" / "deeper" / "blob.bin").write_bytes(os.urandom(3000))
    return source


def make_writable(path: Path) -> None:
    path.chmod(0o644)


def test_create_writes_full_manifest_and_sums(raw, tmp_path):
    snap = snapshot.create(raw, tmp_path / "snaps", "ds", notes="first cut")
    data = manifest.load(snap.path).to_json()
    assert data["schema_version"] == 1 and data["dataset"] == "ds" and data["version"] == snap.version
    assert snap.version == snap.digest[:12] == data["digest"][:12]
    assert data["file_count"] == 2 and data["notes"] == "first cut" and data["source"] == raw.as_posix()
    assert data["total_size_bytes"] == sum(f["size_bytes"] for f in data["files"])
    assert data["created_utc"].endswith("Z")
    files = {f["path"]: f for f in data["files"]}
    assert set(files) == {"texts.csv", "nested/deeper/blob.bin"}
    assert files["texts.csv"]["rows"] == 2 and "rows" not in files["nested/deeper/blob.bin"]
    # plain sha256sum can check the snapshot without Python
    subprocess.run(["sha256sum", "--quiet", "-c", manifest.SUMS], cwd=snap.path, check=True)


def test_same_content_is_the_same_snapshot(raw, tmp_path):
    first = snapshot.create(raw, tmp_path / "snaps", "ds")
    again = snapshot.create(raw, tmp_path / "snaps", "ds")
    assert again == first
    assert not (first.path / "texts.csv").stat().st_mode & 0o222  # still read-only after the re-run
    assert [p.name for p in (tmp_path / "snaps" / "ds").iterdir()] == [first.version]  # no temp dirs left


def test_default_copy_never_shares_the_source_inode_hardlink_opt_in_does(raw, tmp_path):
    copied = snapshot.create(raw, tmp_path / "b", "ds")
    assert (copied.path / "texts.csv").stat().st_ino != (raw / "texts.csv").stat().st_ino
    assert (raw / "texts.csv").stat().st_mode & 0o200  # the user's file stays writable
    linked = snapshot.create(raw, tmp_path / "a", "ds", link="hardlink")
    assert (linked.path / "texts.csv").stat().st_ino == (raw / "texts.csv").stat().st_ino
    assert copied.version == linked.version


def test_replacing_a_raw_file_makes_a_new_version_and_keeps_the_old(raw, tmp_path):
    first = snapshot.create(raw, tmp_path / "snaps", "ds")
    replacement = raw / "texts.csv.new"
    write_csv(replacement, ROWS + [("c", "rain all day", "weather")])
    replacement.replace(raw / "texts.csv")  # how editors and git update a file
    second = snapshot.create(raw, tmp_path / "snaps", "ds")
    assert second.version != first.version
    assert snapshot.verify(first.path) == [] and snapshot.verify(second.path) == []


def run_unprivileged(func, cwd: Path) -> str:
    """Call func() in a forked child as 'nobody' when we are root (root ignores mode bits),
    else as ourselves; return what it returned, or the name of the exception it raised."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_fd)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            os.chdir(cwd)
            try:
                out = str(func())
            except Exception as exc:  # report it to the parent
                out = f"{type(exc).__name__}: {exc}"
            os.write(write_fd, out.encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        out = pipe.read()
    os.waitpid(pid, 0)
    return out


@pytest.fixture
def open_tmp():
    """A temp dir every user can enter (pytest's own is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="reprostack-perm-"))
    path.chmod(0o777)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def test_snapshot_files_are_read_only_and_a_write_fails_loudly(open_tmp):
    raw = open_tmp / "raw"
    write_csv(raw / "texts.csv", ROWS)
    raw.chmod(0o755)
    snap = snapshot.create(raw, open_tmp / "snaps", "ds")
    assert not (snap.path / "texts.csv").stat().st_mode & 0o222
    result = run_unprivileged(lambda: open("texts.csv", "a").write("tamper"), cwd=snap.path)
    assert result.startswith("PermissionError"), result
    assert snapshot.verify(snap.path) == []


def test_unreadable_source_file_is_a_clear_error(open_tmp):
    raw = open_tmp / "raw"
    write_csv(raw / "texts.csv", ROWS)
    (raw / "secret.bin").write_bytes(b"x")
    (raw / "secret.bin").chmod(0o000)
    for p in (raw, open_tmp):
        p.chmod(0o777)
    result = run_unprivileged(lambda: snapshot.create("raw", "snaps", "ds", link="copy"), cwd=open_tmp)
    assert result.startswith("SnapshotError") and "secret.bin: cannot read the file (permission denied)" in result
    assert not (open_tmp / "snaps" / "ds").exists() or not any((open_tmp / "snaps" / "ds").iterdir())


def test_verify_names_changed_missing_and_extra_files(raw, tmp_path):
    snap = snapshot.create(raw, tmp_path / "snaps", "ds", link="copy")
    target = snap.path / "texts.csv"
    make_writable(target)
    target.write_text("id,text,label\nz,tampered,sports\n")
    (snap.path / "nested" / "deeper" / "blob.bin").unlink()
    (snap.path / "new.txt").write_text("sneaked in")
    assert snapshot.verify(snap.path) == ["missing: nested/deeper/blob.bin", "extra: new.txt", "changed: texts.csv"]
    with pytest.raises(SnapshotError, match="changed: texts.csv"):
        snapshot.require_verified(snap.path)


def edit_manifest(snap, change):
    path = snap.path / manifest.MANIFEST
    make_writable(path)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_hand_edited_manifests_are_clear_errors(raw, tmp_path):
    snap = snapshot.create(raw, tmp_path / "snaps", "ds")
    path = snap.path / manifest.MANIFEST
    original = path.read_text()
    make_writable(path)
    path.write_text('{"dataset": "ds", ')
    with pytest.raises(SnapshotError, match="is not valid JSON"):
        snapshot.verify(snap.path)
    path.write_text(original)
    edit_manifest(snap, lambda d: d["files"][0].update(path="../../etc/passwd"))
    with pytest.raises(SnapshotError, match="not a plain relative path"):
        snapshot.verify(snap.path)
    path.write_text(original)
    edit_manifest(snap, lambda d: d["files"][0].update(sha256="0" * 64))
    with pytest.raises(SnapshotError, match="digest that does not match its file list"):
        snapshot.verify(snap.path)


def test_symlinks_inside_are_followed_outside_rejected(raw, tmp_path):
    (raw / "alias.csv").symlink_to(raw / "texts.csv")
    snap = snapshot.create(raw, tmp_path / "ok", "ds", link="copy")
    assert "alias.csv" in {f.path for f in manifest.load(snap.path).files}
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    (raw / "link.txt").symlink_to(outside)
    with pytest.raises(SnapshotError, match="symlink points outside"):
        snapshot.create(raw, tmp_path / "snaps", "ds")
    assert not (tmp_path / "snaps" / "ds").exists() or not any((tmp_path / "snaps" / "ds").iterdir())


@pytest.mark.parametrize("name", ["../x", "a b", "", ".hidden", "x/y", "..", "a..b"])
def test_bad_dataset_names_are_rejected(raw, tmp_path, name):
    with pytest.raises(SnapshotError, match="invalid dataset name"):
        snapshot.create(raw, tmp_path / "snaps", name)
    assert not (tmp_path / "snaps").exists() or not any((tmp_path / "snaps").rglob("*"))


def test_diff_lists_added_removed_changed(raw, tmp_path):
    root = tmp_path / "snaps"
    a = snapshot.create(raw, root, "ds", link="copy")
    write_csv(raw / "texts.csv.new", ROWS[:1])
    (raw / "texts.csv.new").replace(raw / "texts.csv")
    (raw / "nested" / "deeper" / "blob.bin").unlink()
    (raw / "extra.txt").write_text("hello")
    b = snapshot.create(raw, root, "ds", link="copy")
    assert snapshot.diff(a.path, b.path) == {
        "added": ["extra.txt"],
        "removed": ["nested/deeper/blob.bin"],
        "changed": ["texts.csv"],
    }
    assert snapshot.diff(a.path, a.path) == {"added": [], "removed": [], "changed": []}


def test_file_changing_while_hashed_is_detected(tmp_path):
    path = tmp_path / "growing.bin"
    path.write_bytes(os.urandom(64 << 20))
    started, stop = threading.Event(), threading.Event()

    def writer():
        with open(path, "ab") as handle:
            while not stop.is_set():
                handle.write(b"x")
                handle.flush()
                started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    started.wait()
    try:
        with pytest.raises(HashingError, match="changed while it was being hashed"):
            for _ in range(20):
                hash_file(path)
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize(
    "content,expected",
    [
        (b"", "the file is empty"),
        (b"{id},{text}\na,hello\n", "missing column(s) {label}"),
        ("{id},{text},{label}\na,caf\xe9,x\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_snapshot_stage_rejects_bad_csv_and_leaves_nothing(project, content, expected):
    # Column names from conf/, which a project made from the template may rename.
    data = config.load_params(project / "params.yaml").data
    columns = {"id": data.id_column, "text": data.text_column, "label": data.label_column}
    content = content.decode("latin-1").format(**columns).encode("latin-1")
    expected = expected.format(**columns)
    target = project / data.raw_dir / data.file
    target.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "reprostack.stages.snapshot"], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0] and f"{data.raw_dir}/{data.file}" in lines[0]
    params = config.load_params(project / "params.yaml")
    assert not (project / params.paths.snapshots / data.name).exists()
    assert not (project / params.paths.snapshot_pointer).exists()
