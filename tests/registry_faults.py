"""Shared by the registry fault tests (tests/test_faults_registry*.py): the kill points, a
project in production, and `consistent`, the end-state check that does not use the journal."""

import json
import os
import signal
import subprocess
import sys

import pytest
from factories import REPO, clone, params_of
from tools import git, killed_in_fork

from reprostack.core import config, faults, leftovers
from reprostack.registry import audit, catalog, history, journal, tags

POINTS = [
    "after-journal",
    "after-registry-write",
    "after-history-append",
    "after-commit",
    "after-tags",
    "after-last-good",
]
COMMITTED = {"after-commit", "after-tags", "after-last-good"}  # the commit decides: from here on, completed


NAME = params_of(REPO).model_name


@pytest.fixture(name="project")
def production_project(production_once, tmp_path):
    """A clone of the session's project with v0.1.0 in production and v0.2.0 released (the
    `project` fixture of the tests that import this one)."""
    return clone(production_once, tmp_path / "project")


def killed(root, point, *args, fork=True):
    """`reprostack ARGS` killed -9 at the named point: in a forked copy of this process (fast), or
    with fork=False a whole new Python (what a user's kill hits; some tests keep it)."""
    if fork:
        killed_in_fork(root, point, *args)
        return
    result = subprocess.run(
        [sys.executable, "-m", "reprostack", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, faults.ENV: point},
    )
    assert result.returncode == -signal.SIGKILL, (point, result.stderr)


def state(root):
    return (
        (root / catalog.REGISTRY_FILE).read_bytes(),
        (root / history.HISTORY_FILE).read_bytes(),
        sorted(git(root, "tag", "--list").split()),
        git(root, "rev-parse", "HEAD"),
    )


def production(root):
    return [v["version"] for m in catalog.read(root)["models"] for v in m["versions"] if v["stage"] == "production"]


def consistent(root):
    """The end state, checked without the journal: history replay == registry.json, `gto show`
    == registry.json in production, every version tagged on its release commit, every stage tag
    made by a logged change, registry files committed and nothing staged, no journal left."""
    assert audit.check_registry(root, config.load_params(root / "params.yaml"))["problems"] == []
    data = json.loads((root / catalog.REGISTRY_FILE).read_text())
    entries = [json.loads(line) for line in (root / history.HISTORY_FILE).read_text().splitlines()]
    replayed = {}
    for event in entries:
        for change in event["changes"]:
            replayed[change["version"]] = change["to"]
    versions = data["models"][0]["versions"]
    assert replayed == {v["version"]: v["stage"] for v in versions}
    gto = tags.gto_show(root)[NAME]["stage"].get("production")
    assert gto == next((v["version"] for v in versions if v["stage"] == "production"), None)
    for v in versions:
        assert git(root, "rev-parse", f"{NAME}@{v['version']}^{{commit}}^").strip() == v["git"]["commit"]
    made = {tag for event in entries for tag in event["tags"]}
    assert {t for t in git(root, "tag", "--list").split()} == made
    for path in (catalog.REGISTRY_FILE, history.HISTORY_FILE):
        assert git(root, "show", f"HEAD:{path}").encode() == (root / path).read_bytes()
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""
    assert not (root / journal.JOURNAL_FILE).exists() and not (root / journal.BEFORE_FILE).exists()
    assert (root / catalog.LAST_GOOD_FILE).read_bytes() == (root / catalog.REGISTRY_FILE).read_bytes()
    assert not leftovers.stale_locks(root)
