"""Issue 21, end to end with real DVC and git (slow): the DVC workflow (edit conf/, `dvc repro`,
commit everything) makes runs that `runs reproduce` proves bit for bit in a second clone, and a
fresh clone's rebuild leaves dvc.lock byte for byte equal and `git status` showing only the new
run record. The stand-in encoder (`hashing:16`) keeps the pipeline quick; what is tested is the
workflow, not the model."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from factories import STAND_IN, clone, commit_all, copy_sources, edit_conf, ensure_data
from tools import ENV, VENV_BIN, git

pytestmark = pytest.mark.slow


def sh(cwd: Path, *cmd: str, home: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, **ENV, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    if home is not None:
        env["HOME"] = str(home)
    result = subprocess.run([str(VENV_BIN / cmd[0]), *cmd[1:]], cwd=cwd, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def run_ids(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "runs").glob("*.json"))


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    """A project built from sources with the stand-in encoder: `dvc repro`, everything committed."""
    root = copy_sources(tmp_path_factory.mktemp("then-commit") / "project")
    edit_conf(root, embedding={"model": STAND_IN})
    ensure_data(root)
    commit_all(root, "the stand-in encoder")
    sh(root, "dvc", "repro")
    commit_all(root, "first run")
    return root


def test_edit_conf_repro_commit_then_a_second_clone_reproduces_bit_identical(committed, tmp_path):
    root = clone(committed, tmp_path / "project")
    base = git(root, "rev-parse", "HEAD").strip()
    edit_conf(root, compose=False, seed=7)  # what a user does: conf/ only; compose writes params.yaml
    before = run_ids(root)
    sh(root, "dvc", "repro")
    (run_id,) = set(run_ids(root)) - set(before)
    record = json.loads((root / "runs" / f"{run_id}.json").read_text())
    assert record["code"]["commit"] == base and record["code"]["dirty"]
    assert record["code"]["changed"] == ["conf/config.yaml"]
    assert record["code"]["blobs"] == {"conf/config.yaml": git(root, "hash-object", "conf/config.yaml").strip()}
    commit_all(root, "seed 7, with its results")  # code, config and results together
    added = git(root, "rev-parse", "HEAD").strip()
    assert git(root, "status", "--porcelain") == ""

    listed = json.loads(sh(root, "reprostack", "runs", "list", "--json").stdout)
    assert {r["run_id"]: r["from_git"] for r in listed}[run_id] == f"yes, {added[:10]}"

    second = tmp_path / "second"
    git(tmp_path, "clone", "-q", str(root), str(second))  # no DVC cache, no vector table
    home = tmp_path / "home2"
    home.mkdir()
    result = sh(second, "reprostack", "runs", "reproduce", run_id, "--re-embed", "--json", home=home)
    report = json.loads(result.stdout)
    assert report["verdict"] == "bit-identical" and report["reproduced"]
    assert report["commit"] == added and report["commit_found"] == "committed after the run"
    assert report["model_sha256"]["reproduced"] == record["outputs"]["model"]["sha256"]
    assert f"commit: {added[:12]} holds the changes the run was made with" in result.stderr
    # and exact, in the project that has the run's table version
    exact = sh(root, "reprostack", "runs", "reproduce", run_id)
    assert f"{run_id}: reproduced (bit-identical)" in exact.stdout and f"re-ran commit {added[:12]}" in exact.stdout


def test_changes_that_never_reached_git_are_named(committed, tmp_path):
    root = clone(committed, tmp_path / "project")
    edit_conf(root, compose=False, seed=8)
    before = run_ids(root)
    sh(root, "dvc", "repro")
    (run_id,) = set(run_ids(root)) - set(before)
    edit_conf(root, compose=False, seed=9)  # edited again before the commit: seed 8 never reached git
    commit_all(root, "seed 9, with the seed 8 run's record")
    refused = sh(root, "reprostack", "runs", "reproduce", run_id, check=False)
    assert refused.returncode == 1
    assert "uncommitted changes to conf/config.yaml, and no commit after" in refused.stderr
    listed = json.loads(sh(root, "reprostack", "runs", "list", "--json").stdout)
    assert {r["run_id"]: r["from_git"] for r in listed}[run_id] == "no: conf/config.yaml not in git"


def test_a_fresh_clone_rebuild_leaves_dvc_lock_unchanged(committed, tmp_path):
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(committed), str(fresh))  # no store, no DVC cache, no table
    lock = (fresh / "dvc.lock").read_bytes()
    before = run_ids(fresh)
    built = sh(fresh, "dvc", "repro")
    assert "Running stage 'embed'" in built.stdout  # it did rebuild
    assert (fresh / "dvc.lock").read_bytes() == lock
    (run_id,) = set(run_ids(fresh)) - set(before)
    assert git(fresh, "status", "--porcelain") == f"?? runs/{run_id}.json\n"
    again = sh(fresh, "dvc", "repro")
    assert "Data and pipelines are up to date." in again.stdout and "Running stage" not in again.stdout
    assert "Data and pipelines are up to date." in sh(fresh, "dvc", "status").stdout
    reproduced = sh(fresh, "reprostack", "runs", "reproduce", run_id)
    assert f"{run_id}: reproduced (bit-identical)" in reproduced.stdout


def test_params_drift_after_exp_run_is_reported_and_put_back(committed, tmp_path):
    root = clone(committed, tmp_path / "project")
    exp = sh(root, "dvc", "exp", "run", "-S", "seed=11")
    assert "params.yaml differs from conf/ at " in exp.stderr and "seed=11 (conf/: 42)" in exp.stderr
    status = sh(root, "dvc", "status").stdout  # loud: the pipeline is not up to date with conf/
    assert (
        "params-drift.txt" in status
        and "seed: conf/ 42, params.yaml 11" in (root / "runs" / "stages" / "params-drift.txt").read_text()
    )
    before = git(root, "rev-parse", "HEAD").strip()
    commit_all(root, "the experiment, committed as is")
    refused = sh(root, "reprostack", "release", check=False)
    assert refused.returncode != 0 and "params.yaml differs from conf/" in refused.stderr
    back = sh(root, "dvc", "repro")
    assert "params.yaml: seed: 11 -> 42 (from conf/)" in back.stderr
    assert "Data and pipelines are up to date." in sh(root, "dvc", "repro").stdout
    # back to the state before the experiment, markers idle again
    assert git(root, "diff", "--stat", before, "--", "dvc.lock", "params.yaml", "runs/stages") == ""
