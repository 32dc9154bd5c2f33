"""Issue 24: the registry survives DVC's experiment commands. An experiment queued before a
release and a promote, run later and applied (`dvc exp apply` lays its older commit's tree over
the work tree) no longer reverts registry.json, the history, a release's .dvc file, run records
or the store settings: the next `reprostack` command restores them from HEAD, loudly. The
records of `--temp` and queued runs are kept in the project."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from registry_faults import NAME, state
from tools import VENV_BIN
from tools import run_cli as cli


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(VENV_BIN / "dvc"), *args], cwd=root, capture_output=True, text=True, env=env)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def _owned(root: Path) -> dict:
    files = [*root.glob("models/*/*.dvc"), *root.glob("runs/*.json"), root / ".dvc" / "config"]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


@pytest.mark.slow
def test_exp_apply_of_an_experiment_queued_before_a_release_keeps_the_registry(candidate, tmp_path):
    assert cli(candidate, "store", "init", str(tmp_path / "store")).returncode == 0
    subprocess.run(["git", "commit", "-qam", "store"], cwd=candidate, check=True)
    dvc(candidate, "exp", "run", "--queue", "-S", "seed=7", "-n", "before-release")
    released = cli(candidate, "release", NAME)
    assert released.returncode == 0, released.stderr
    version = sorted(p.stem for p in (candidate / "models" / NAME).glob("*.dvc"))[-1]
    promoted = cli(candidate, "registry", "promote", NAME, version)
    assert promoted.returncode == 0, promoted.stderr
    before, owned = state(candidate), _owned(candidate)
    records = {p.name for p in (candidate / "runs").glob("*.json")}
    dvc(candidate, "exp", "run", "--run-all")  # the queue, in temporary workspaces
    kept = {p.name for p in (candidate / "runs").glob("*.json")} - records
    assert len(kept) == 1, "the queued run's record was lost with its workspace"
    dvc(candidate, "exp", "apply", "before-release")
    listing = cli(candidate, "registry", "list")
    assert listing.returncode == 0 and "restored them from HEAD" in listing.stderr, listing.stderr
    assert state(candidate) == before
    assert {k: v for k, v in _owned(candidate).items() if k in owned} == owned
    assert (candidate / "runs" / next(iter(kept))).exists()
    assert "seed: 7" in (candidate / "params.yaml").read_text()  # the experiment itself stays applied
    # the registry verifies (the tree is not clean: the experiment's changes are applied, uncommitted)
    registry = cli(candidate, "verify", "--json").json()["registry"]
    assert registry["problems"] == [], registry
    again = cli(candidate, "registry", "list")
    assert "restored" not in again.stderr  # each apply is repaired once, silently after


def test_repair_restores_what_the_applied_commit_reverted_and_keeps_the_users_own_changes(released):
    from tools import git

    from reprostack.registry import experiments

    root, first, _ = released
    older = git(root, "rev-list", "--max-parents=0", "HEAD").strip()  # before any release
    registry = root / "models" / "registry.json"
    head_registry = registry.read_bytes()
    git(root, "checkout", older, "--", ".dvc/config")  # unchanged since: stays as it is
    subprocess.run(["git", "checkout", older, "--", "runs"], cwd=root, capture_output=True)
    dvcfiles = sorted((root / "models").glob("*/*.dvc"))
    for path in dvcfiles:  # what the apply does: the older tree over the work tree
        path.unlink()
    registry.unlink()
    (root / "conf" / "config.yaml").write_text((root / "conf" / "config.yaml").read_text() + "\n# mine\n")
    assert experiments.repair(root) == []  # no apply happened: nothing touched
    ref = root / ".git" / experiments.APPLY_REF
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(older + "\n")
    restored = experiments.repair(root)
    assert str(experiments.owned()[0]) in restored and all(p.exists() for p in dvcfiles)
    assert registry.read_bytes() == head_registry
    assert "# mine" in (root / "conf" / "config.yaml").read_text()  # not the registry's: kept
    assert experiments.repair(root) == []  # once per apply
