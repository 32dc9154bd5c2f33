"""`reprostack gc` on a small history (3 data-changing runs, the second released and in
production): --dry-run lists exactly what the first run alone needed and changes nothing; gc
frees it and every kept version still verifies; kill -9 at each named point leaves a state the
next gc or verify finishes to the same end; a user's tag on an old table version keeps it and
does not block gc. The 10-run scenario is test_gc_slow.py."""

import json
import subprocess

import gc_scenario
import pytest
from conftest import shared
from factories import REPO, clone, params_of
from tools import cli_process, run_cli

from reprostack.gc import collect
from reprostack.provenance import chain

NAME = params_of(REPO).model_name


@pytest.fixture(scope="session")
def small_once(tmp_path_factory, session_env):
    return shared(tmp_path_factory, "gc-small", lambda base: gc_scenario.build(base / "project", 3, 2, ("v0.1.0",)))


@pytest.fixture
def small(small_once, tmp_path):
    return clone(small_once, tmp_path / "project")


def table(root):
    import lance  # here, not at collection: other tests in this process fork, and lance is not fork-safe

    return lance.dataset(str(root / params_of(root).embedding.uri / f"{params_of(root).embedding.table}.lance"))


def state(root):
    """What gc may change: the DVC cache's objects, the table's versions and tags, the snapshots."""
    data = table(root)
    cache = root / ".dvc" / "cache" / "files" / "md5"
    return {
        "objects": sorted(p.parent.name + p.name for p in cache.glob("*/*")),
        "versions": [v["version"] for v in data.versions()],
        "tags": sorted(data.tags.list()),
        "snapshots": sorted(p.parent.name for p in (root / "data" / "snapshots").glob("*/*/manifest.json")),
        "trash": sorted(p.name for p in root.rglob(collect.TRASH)),
    }


def first_run_outputs(root):
    """Independently: what only the first run (neither released nor the newest) made."""
    from reprostack.runs import records

    first = records.list_records(root / "runs")[0]
    data = table(root)
    return {
        "version": first["vectors"]["version"],
        "tags": sorted(t for t, info in data.tags.list().items() if info["version"] == first["vectors"]["version"]),
        "snapshot": first["data"]["snapshot"],
    }


def dry(root, *args):
    result = run_cli(root, "gc", "--dry-run", "--json", *args)
    assert result.returncode == 0, result.stderr
    return result.json()


def test_dry_run_lists_exactly_the_unreachable_then_gc_frees_it_and_kept_versions_verify(small):
    expected = first_run_outputs(small)
    before = state(small)
    found = dry(small)
    assert state(small) == before  # a dry run deletes nothing
    by_store = {s: sorted(i["key"] for i in found["items"] if i["store"] == s) for s in found["bytes"]}
    assert by_store["vectors"] == [str(expected["version"])] and by_store["vector-tags"] == expected["tags"]
    assert by_store["snapshots"] == [f"data/snapshots/sample/{expected['snapshot']}"]
    assert by_store["dvc-cache"] and by_store["models"] == [] and found["notes"]["dvc-remote"] == "no store configured"
    assert all(i["reason"] and i["size"] >= 0 for i in found["items"])
    text = run_cli(small, "gc", "--dry-run").stdout
    assert "vectors: 1 items, would free " in text and f"({sum(found['bytes'].values())} bytes)" in text

    done = run_cli(small, "gc", "--json")
    assert done.returncode == 0, done.stderr
    freed = done.json()["bytes"]
    assert sum(freed.values()) > 0 and freed["snapshots"] == found["bytes"]["snapshots"]
    after = state(small)
    assert after["objects"] == sorted(set(before["objects"]) - set(by_store["dvc-cache"]))
    assert expected["version"] not in after["versions"] and not set(expected["tags"]) & set(after["tags"])
    assert dry(small)["items"] == []  # nothing left to collect
    assert run_cli(small, "verify").returncode == 0
    walked = chain.walk(small, params_of(small), NAME, "v0.1.0")
    assert walked.first_broken is None, [(lk.name, lk.detail) for lk in walked.links]
    status = subprocess.run(["dvc", "status", "--json"], cwd=small, capture_output=True, text=True)
    assert json.loads(status.stdout) == {}  # no stage is always-changed (issue 21)


@pytest.mark.parametrize(
    ("point", "then"),
    [
        ("gc.during-cache", "verify"),
        ("gc.after-tags", "gc"),
        pytest.param("gc.after-journal", "gc", marks=pytest.mark.slow),
        pytest.param("gc.during-snapshots", "verify", marks=pytest.mark.slow),
    ],
)
def test_a_kill_at_each_point_is_finished_by_the_next_gc_or_verify(small, small_once, tmp_path, point, then):
    reference = clone(small_once, tmp_path / "reference")
    assert run_cli(reference, "gc").returncode == 0
    killed = cli_process(small, "gc", env={"REPROSTACK_KILL_AT": point})
    assert killed.returncode == -9, killed.stderr
    assert collect.journal_path(small).exists()
    after = run_cli(small, then)  # in process: only the killed gc needs a process of its own
    assert after.returncode == 0, after.stdout + after.stderr
    assert "the gc is finished" in after.stdout
    assert not collect.journal_path(small).exists()
    assert state(small) == state(reference)
    assert run_cli(small, "verify").returncode == 0


def test_a_users_tag_on_an_old_table_version_keeps_it_and_does_not_block_gc(small):
    old = first_run_outputs(small)["version"]
    table(small).tags.create("baseline", old)
    found = dry(small)
    assert [i for i in found["items"] if i["store"] == "vectors"] == []
    assert run_cli(small, "gc").returncode == 0
    assert old in [v["version"] for v in table(small).versions()] and "baseline" in table(small).tags.list()


def test_a_failed_releases_leftovers_go_and_released_versions_stay(small):
    leftover = small / "models" / NAME / ".v9.9.9.tmp"
    leftover.mkdir()
    (leftover / "model.pkl").write_bytes(b"x" * 100)
    found = dry(small)
    assert [(i["key"], i["size"]) for i in found["items"] if i["store"] == "models"] == [
        (f"models/{NAME}/.v9.9.9.tmp", 100)
    ]
    assert run_cli(small, "gc").returncode == 0
    assert not leftover.exists() and (small / "models" / NAME / "v0.1.0" / "model.pkl").exists()


def test_bad_keep_counts_are_one_line(small):
    result = run_cli(small, "gc", "--keep-runs", "0")
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "--keep-runs" in result.stderr


def test_gc_refuses_while_a_dvc_or_git_process_works_here(small):
    """A running `dvc repro` writes cache objects before dvc.lock names them: gc must not judge them."""
    busy = subprocess.Popen(["git", "cat-file", "--batch"], cwd=small, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        before = state(small)
        result = run_cli(small, "gc")
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert f"(pid {busy.pid})" in result.stderr and "when it has finished" in result.stderr
        assert state(small) == before and not collect.journal_path(small).exists()
    finally:
        busy.kill()
        busy.wait()
