"""Run, then commit (issue 21): a record keeps each changed file's git blob id, and the commit that
holds exactly those contents is found after the run. Real git repositories in tmp, in process."""

import json

import pytest
from tools import git

from reprostack.runs import commits, records

EXCLUDE = ["dvc.lock", "runs"]  # what records.pipeline_outputs gives a project without outputs


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "conf").mkdir(parents=True)
    (root / "runs").mkdir()
    (root / "conf" / "config.yaml").write_text("seed: 1\n")
    (root / "src.py").write_text("print('v1')\n")
    (root / "dvc.lock").write_text("lock: 1\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def run_here(root, run_id="20260101T000000000000Z-aaaaaa") -> dict:
    """What the record stage does: capture the code state, write the record (and dvc.lock)."""
    record = {"run_id": run_id, "code": records.git_state(root, exclude=EXCLUDE)}
    (root / "runs" / f"{run_id}.json").write_text(json.dumps(record))
    (root / "dvc.lock").write_text(f"lock: {run_id}\n")  # the pipeline's own output changes too
    return record


def commit(root, message) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def find(root, record):
    return commits.find(root, record, EXCLUDE, record_path=f"runs/{record['run_id']}.json")


def test_a_record_keeps_the_blob_id_git_gives_each_changed_file(repo):
    (repo / "conf" / "config.yaml").write_text("seed: 2\n")
    (repo / "src.py").unlink()
    code = run_here(repo)["code"]
    assert code["dirty"] and code["changed"] == ["conf/config.yaml", "src.py"]
    expected = git(repo, "hash-object", "conf/config.yaml").strip()
    assert code["blobs"] == {"conf/config.yaml": expected, "src.py": None}
    # the pipeline's own outputs are no dirt and get no blob id
    assert "dvc.lock" not in code["blobs"]


def test_run_then_commit_finds_the_commit_that_added_the_record(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "conf" / "config.yaml").write_text("seed: 2\n")
    record = run_here(repo)
    added = commit(repo, "seed 2, with its results")
    (repo / "conf" / "config.yaml").write_text("seed: 3\n")
    later = commit(repo, "seed 3")  # touches the same file, holds other contents
    (repo / "conf" / "config.yaml").write_text("seed: 2\n")
    (repo / "src.py").write_text("print('v2')\n")
    commit(repo, "seed 2 again, and other code")  # holds the blob, but the code differs
    found = find(repo, record)
    assert (found.commit, found.how) == (added, "committed after the run")
    assert later != added and base != added
    # the clean run of a commit re-runs that commit
    assert find(repo, run_here(repo, "20260101T000000000000Z-cccccc")) == commits.Found(
        git(repo, "rev-parse", "HEAD").strip(), "clean"
    )


def test_without_the_record_file_the_first_exact_commit_is_found(repo):
    (repo / "conf" / "config.yaml").write_text("seed: 2\n")
    record = run_here(repo)
    (repo / "runs" / f"{record['run_id']}.json").unlink()  # the record committed elsewhere, later
    exact = commit(repo, "seed 2 only")
    assert find(repo, record).commit == exact


def test_contents_edited_before_the_commit_never_reached_git(repo):
    (repo / "conf" / "config.yaml").write_text("seed: 2\n")
    (repo / "src.py").write_text("print('v2')\n")
    record = run_here(repo)
    (repo / "conf" / "config.yaml").write_text("seed: 4\n")  # changed again before committing
    commit(repo, "seed 4 and v2")
    found = find(repo, record)
    assert found.commit is None and found.how == "not in git"
    assert found.missing == ("conf/config.yaml",)  # src.py reached git as it ran


def test_a_commit_with_more_changes_than_the_run_is_not_the_run(repo):
    (repo / "conf" / "config.yaml").write_text("seed: 2\n")
    record = run_here(repo)
    (repo / "src.py").write_text("print('v2')\n")  # an edit made after the run
    commit(repo, "seed 2 and an edit after the run")
    assert find(repo, record).commit is None


def test_a_deleted_file_is_held_by_the_commit_that_deletes_it(repo):
    (repo / "src.py").unlink()
    record = run_here(repo)
    assert find(repo, record).commit is None  # not committed yet
    deleted = commit(repo, "drop src.py")
    assert find(repo, record).commit == deleted


def test_records_before_blob_ids_are_found_by_their_diff_hash(repo):
    (repo / "conf" / "config.yaml").write_text("seed: 2\n")
    record = run_here(repo)
    del record["code"]["blobs"]  # a record made before run-then-commit
    exact = commit(repo, "seed 2")
    assert find(repo, record).commit == exact
    record["code"]["diff_sha256"] = "0" * 64
    assert find(repo, record) == commits.Found(None, "not in git", ("conf/config.yaml",))


def test_gone_and_unnamed(repo):
    assert find(repo, {"run_id": "x", "code": {"commit": "1" * 40, "dirty": False}}).how == "commit gone"
    head = git(repo, "rev-parse", "HEAD").strip()
    unnamed = find(repo, {"run_id": "x", "code": {"commit": head, "dirty": True, "changed": []}})
    assert unnamed == commits.Found(None, "not in git", ("unnamed files",))
