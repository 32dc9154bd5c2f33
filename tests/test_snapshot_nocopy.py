"""Issue 24: the snapshot stage copies nothing when the snapshot exists (hash first, then copy
only new content), so a re-run on a full disk succeeds and a run costs no second copy of the data."""

from __future__ import annotations

import pytest
from factories import write_csv
from test_faults_registry_disk import _fill, small_disk  # noqa: F401 (a fixture)

from reprostack.data import cow, snapshot

ROWS = [(f"t{i}", f"text number {i} about rates", "finance" if i % 2 else "sports") for i in range(50)]


def test_an_existing_snapshot_is_found_without_copying_anything(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    write_csv(raw / "texts.csv", ROWS)
    first = snapshot.create(raw, tmp_path / "snaps", "d")
    placed = []
    real_place = cow.place
    monkeypatch.setattr(cow, "place", lambda *a, **k: placed.append(a) or real_place(*a, **k))
    again = snapshot.create(raw, tmp_path / "snaps", "d")
    assert again == first and placed == []
    write_csv(raw / "texts.csv", ROWS + [("t99", "one more text", "sports")])
    changed = snapshot.create(raw, tmp_path / "snaps", "d")
    assert changed.version != first.version and len(placed) == 1  # new content: copied once
    assert snapshot.verify(changed.path) == [] and snapshot.verify(first.path) == []


def test_an_existing_snapshot_is_found_on_a_full_disk(tmp_path, small_disk):  # noqa: F811
    raw = small_disk / "raw"
    write_csv(raw / "texts.csv", ROWS * 1 + [(f"x{i}", "padding " * 40, "sports") for i in range(200)])
    first = snapshot.create(raw, small_disk / "snaps", "d")
    filler = _fill(small_disk, 0)
    try:
        assert snapshot.create(raw, small_disk / "snaps", "d") == first
    finally:
        filler.unlink()


def test_a_damaged_snapshot_is_still_refused_and_repaired(tmp_path):
    raw = tmp_path / "raw"
    write_csv(raw / "texts.csv", ROWS)
    first = snapshot.create(raw, tmp_path / "snaps", "d")
    target = first.path / "texts.csv"
    target.chmod(0o644)
    target.write_text("tampered\n")
    with pytest.raises(Exception, match="damaged"):
        snapshot.create(raw, tmp_path / "snaps", "d")
    assert snapshot.create(raw, tmp_path / "snaps", "d", repair=True) == first
    assert snapshot.verify(first.path) == []


def test_a_second_writer_of_a_dataset_is_refused_naming_the_first(tmp_path, monkeypatch):
    import os

    from reprostack.core import writer

    raw = tmp_path / "raw"
    write_csv(raw / "texts.csv", ROWS)
    monkeypatch.setenv(writer.WAIT_ENV, "0.2")
    with writer.exclusive(tmp_path / "snaps" / "d", "the snapshots"):  # another holder of the lock
        with pytest.raises(writer.WriterBusyError, match=f"pid {os.getpid()}"):
            snapshot.create(raw, tmp_path / "snaps", "d")
    assert snapshot.create(raw, tmp_path / "snaps", "d").path.is_dir()  # released: the next writer goes on
