"""Fault injection on the registry: kill -9 at every named point of promote, demote, rollback and
release, random external kills and git's stale locks; a full disk and hand corruption are in
test_faults_registry_disk.py and test_faults_registry_corruption.py.

Every case ends with `verify` (which finishes or undoes an interrupted change) AND an
independent check that does not use the journal: the history log replayed against
registry.json, `gto show`, the tags and HEAD (`consistent`, in registry_faults.py).
"""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from factories import make_candidate
from registry_faults import (
    COMMITTED,
    NAME,
    POINTS,
    consistent,
    killed,
    production,
    production_project,  # noqa: F401  (the `project` fixture)
    state,
)
from tools import git, sh
from tools import run_cli as cli  # follow-up commands in process: the kills are what cross a process boundary

from reprostack.core import config, leftovers
from reprostack.data.hashing import sha256_file
from reprostack.registry import audit, catalog, history, journal


@pytest.mark.parametrize("point", POINTS)
# rollback and demote go through promote's journal code (promotion.apply_moves): their matrix is
# the slow suite's, promote's the fast one's
@pytest.mark.parametrize(
    "action",
    ["promote", pytest.param("rollback", marks=pytest.mark.slow), pytest.param("demote", marks=pytest.mark.slow)],
)
def test_a_kill_at_every_point_is_completed_or_undone(project, action, point):
    before = state(project)
    args = {"promote": [NAME, "v0.2.0"], "rollback": [NAME], "demote": [NAME, "v0.1.0"]}[action]
    if action == "rollback":  # v0.2.0 in production, then roll back to v0.1.0
        assert cli(project, "registry", "promote", NAME, "v0.2.0").returncode == 0
        before = state(project)
    killed(project, f"{action}.{point}", "registry", action, *args)
    consistent(project)  # verify recovers first, then everything agrees
    expected = {"promote": ["v0.2.0"], "rollback": ["v0.1.0"], "demote": []}[action]
    if point in COMMITTED:
        assert production(project) == expected
    else:
        assert state(project) == before
    # and the registry works on: the next command succeeds
    assert (
        cli(
            project,
            "registry",
            "demote" if production(project) else "promote",
            NAME,
            production(project)[0] if production(project) else "v0.2.0",
        ).returncode
        == 0
    )
    consistent(project)


@pytest.mark.parametrize("point, done", [("after-registry-write", False), ("after-history-append", True)])
def test_without_commits_the_history_line_decides(project, point, done):
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("  commit: true", "  commit: false"))
    head = git(project, "rev-parse", "HEAD")
    killed(project, f"promote.{point}", "registry", "promote", NAME, "v0.2.0")
    assert audit.check_registry(project, config.load_params(params))["problems"] == []
    assert production(project) == (["v0.2.0"] if done else ["v0.1.0"])
    assert history.replay(history.read(project))[NAME]["v0.2.0"] == ("production" if done else "dev")
    assert git(project, "rev-parse", "HEAD") == head and not (project / journal.JOURNAL_FILE).exists()


def test_the_next_command_recovers_without_verify(project):
    # a whole new Python killed, as a user's kill hits it (the other kills here fork this process)
    killed(project, "promote.after-history-append", "registry", "promote", NAME, "v0.2.0", fork=False)
    assert (project / journal.JOURNAL_FILE).exists() and production(project) == ["v0.2.0"]  # half-done on disk
    result = cli(project, "registry", "promote", NAME, "v0.2.0", "--to", "staging")
    assert result.returncode == 0, result.stderr
    consistent(project)
    assert production(project) == ["v0.1.0"]  # the killed promote was undone, not completed


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after-journal", "after-report", "after-store", "after-prepare", *POINTS[1:]])
def test_a_killed_release_is_completed_or_undone(project, point):
    make_candidate(project)
    before = state(project)
    killed(project, f"release.{point}", "release", NAME)
    consistent(project)
    if point in COMMITTED:
        assert catalog.latest_version(catalog.read(project), NAME) == "v0.3.0"
        assert git(project, "cat-file", "-t", f"{NAME}@v0.3.0").strip() == "tag"
        report = catalog.require_version(catalog.read(project), NAME, "v0.3.0")["report"]  # written with the store
        assert sha256_file(project / report["path"]) == report["sha256"]
    else:
        assert state(project) == before and not (project / f"models/{NAME}/v0.3.0").exists()
        assert not (project / f"models/{NAME}/v0.3.0.dvc").exists()
        assert "/v0.3.0" not in (project / f"models/{NAME}/.gitignore").read_text()
        result = cli(project, "release", NAME)  # starts clean
        assert result.returncode == 0, result.stderr
        consistent(project)
    assert (project / f"models/{NAME}/v0.3.0/model.pkl").exists()


@pytest.mark.slow
def test_random_external_kills_of_the_whole_process_group(project):
    rng, outcomes = random.Random(13), []
    for _ in range(12):
        version = "v0.2.0" if production(project) == ["v0.1.0"] else "v0.1.0"
        proc = subprocess.Popen(
            [sys.executable, "-m", "reprostack", "registry", "promote", NAME, version],
            cwd=project,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 0.6))
        os.killpg(proc.pid, signal.SIGKILL)  # git children die too: their locks stay behind
        outcomes.append(proc.wait())
        consistent(project)
    assert outcomes.count(-signal.SIGKILL) >= 6  # most trials really were killed mid-way


def test_stale_git_locks_are_removed_when_no_git_runs(project):
    gitdir = project / ".git"
    for lock in ("index.lock", f"refs/tags/{NAME}#production#9.lock", "HEAD.lock"):
        (gitdir / lock).write_text("")
    result = cli(project, "registry", "promote", NAME, "v0.2.0")
    assert result.returncode == 0, result.stderr
    assert not leftovers.stale_locks(project)
    consistent(project)


def test_a_truncated_dvc_rwlock_is_removed_when_no_dvc_runs(project):
    """DVC rewrites .dvc/tmp/rwlock in place; a kill mid-write (seen in a random release kill)
    leaves it empty and every later dvc command, `release`'s `dvc status` included, fails."""
    rwlock = project / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(parents=True, exist_ok=True)
    rwlock.write_text('{"read": {"data/sn')
    assert "RWLock-file" in sh(project, "dvc", "status", check=False).stderr  # the fault is real
    result = cli(project, "registry", "promote", NAME, "v0.2.0")
    assert result.returncode == 0, result.stderr
    assert not rwlock.exists()
    assert sh(project, "dvc", "status", check=False).returncode == 0
    consistent(project)


def test_a_lock_held_by_a_live_git_is_named_with_its_fix(project):
    (project / ".git" / "index.lock").write_text("")
    holder = subprocess.Popen(["git", "hash-object", "--stdin"], cwd=project, stdin=subprocess.PIPE)
    try:
        before = state(project)
        result = cli(project, "registry", "promote", NAME, "v0.2.0")
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert f"pid {holder.pid}" in result.stderr and "`rm -f .git/index.lock`" in result.stderr
        assert state(project) == before
    finally:
        holder.kill()
        holder.wait()
    subprocess.run(["rm", "-f", ".git/index.lock"], cwd=project, check=True)  # the advised fix
    assert cli(project, "registry", "promote", NAME, "v0.2.0").returncode == 0
    consistent(project)


def test_a_failing_tag_update_undoes_the_commit(project):
    hook = project / ".git" / "hooks" / "reference-transaction"
    hook.write_text('#!/bin/sh\n[ "$1" = prepared ] && grep -q refs/tags/ && exit 1\nexit 0\n')
    hook.chmod(0o755)
    before = state(project)
    result = cli(project, "registry", "promote", NAME, "v0.2.0")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    hook.unlink()
    assert state(project) == before
    consistent(project)


def test_a_commit_that_cannot_be_undone_is_completed_never_reported_failed(project):
    """The tags fail once, then git refuses to move the branch back: the change cannot be undone,
    so it is completed (exit 0, consistent), never an exit 1 that took effect."""
    hook = project / ".git" / "hooks" / "reference-transaction"
    hook.write_text(
        '#!/bin/sh\n[ "$1" = prepared ] || exit 0\nrefs=$(cat)\n'
        'if echo "$refs" | grep -q refs/tags/ && [ ! -e .git/tags-failed ]; then touch .git/tags-failed; exit 1; fi\n'
        'if echo "$refs" | grep -q refs/heads/ && [ -e .git/tags-failed ]; then exit 1; fi\nexit 0\n'
    )
    hook.chmod(0o755)
    result = cli(project, "registry", "promote", NAME, "v0.2.0")
    hook.unlink()
    assert (project / ".git" / "tags-failed").exists(), "the hook never fired"
    assert result.returncode == 0, result.stderr
    assert production(project) == ["v0.2.0"]
    consistent(project)


@pytest.mark.slow
def test_random_external_kills_of_release(project):
    make_candidate(project)
    rng, outcomes, said = random.Random(13), [], []
    for trial in range(8):
        errors = (project.parent / f"release-{trial}.err").open("w+")  # what a trial said, if it failed itself
        proc = subprocess.Popen(
            [sys.executable, "-m", "reprostack", "release", NAME],
            cwd=project,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        time.sleep(rng.uniform(0.2, 2.5))  # a release takes ~3 s here: most trials are cut short
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # dvc and git children die too
        except ProcessLookupError:
            pass  # it finished first
        outcomes.append(proc.wait())
        errors.seek(0)
        said.append(errors.read()[-2000:])
        errors.close()
        consistent(project)  # verify finishes or undoes it first
        if catalog.latest_version(catalog.read(project), NAME) == "v0.3.0":
            break  # released whole: the tag, the store dir and its .dvc are there
        assert not (project / f"models/{NAME}/v0.3.0").exists() and not (project / f"models/{NAME}/v0.3.0.dvc").exists()
    if catalog.latest_version(catalog.read(project), NAME) != "v0.3.0":
        result = cli(project, "release", NAME)  # starts clean after any number of kills
        assert result.returncode == 0, result.stderr
        consistent(project)
    assert git(project, "cat-file", "-t", f"{NAME}@v0.3.0").strip() == "tag"
    assert (project / f"models/{NAME}/v0.3.0/model.pkl").exists()
    # every trial was killed, or (the last one) released; never an error of its own
    assert set(outcomes[:-1]) <= {-signal.SIGKILL} and outcomes[-1] in (-signal.SIGKILL, 0), (outcomes, said)
    assert outcomes[0] == -signal.SIGKILL, outcomes  # the first delay (0.8 s) is well inside a release
    print("release kill outcomes:", outcomes)
