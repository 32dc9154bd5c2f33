import subprocess

import pytest

from reprostack import runs
from reprostack.errors import RunRecordError
from conftest import git


def test_run_ids_sort_by_time_and_are_unique():
    ids = [runs.new_run_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert ids == sorted(ids) or all(a[:22] <= b[:22] for a, b in zip(ids, ids[1:]))


def test_records_are_never_overwritten(tmp_path):
    record = {"run_id": "20260101T000000000000Z-abcdef", "created_utc": "x", "code": {}, "params": {}, "outputs": {}}
    path = runs.write_record(tmp_path, record)
    assert runs.read_record(tmp_path, record["run_id"])["run_id"] == record["run_id"]
    with pytest.raises(RunRecordError, match="never overwritten"):
        runs.write_record(tmp_path, {**record, "outputs": {"x": 1}})
    assert runs.read_record(tmp_path, record["run_id"])["outputs"] == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp files left


def test_unknown_or_malicious_run_id(tmp_path):
    with pytest.raises(RunRecordError, match="does not exist"):
        runs.read_record(tmp_path, "20990101T000000Z-000000")
    with pytest.raises(RunRecordError, match="invalid run id"):
        runs.read_record(tmp_path, "../etc/passwd")


def test_git_state_reports_commit_and_dirty_diff(tmp_path):
    assert runs.git_state(tmp_path)["commit"] is None
    git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git(tmp_path, "add", "a.txt")
    git(tmp_path, "commit", "-q", "-m", "c")
    clean = runs.git_state(tmp_path)
    assert len(clean["commit"]) == 40 and clean["dirty"] is False and clean["diff_sha256"] is None
    (tmp_path / "a.txt").write_text("2")
    dirty = runs.git_state(tmp_path)
    assert dirty["dirty"] is True and len(dirty["diff_sha256"]) == 64
