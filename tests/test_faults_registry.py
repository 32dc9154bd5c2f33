"""Fault injection on the registry: kill -9 at every named point of promote, demote, rollback and
release, random external kills, a full disk (tmpfs), git's stale locks and hand corruption.

Every case ends with `verify` (which finishes or undoes an interrupted change) AND an
independent check that does not use the journal: the history log replayed against
registry.json, `gto show`, the tags and HEAD (`consistent`).
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from factories import REPO, clone, make_candidate, params_of
from tools import cli_process as cli
from tools import VENV_BIN, git

from reprostack import config, faults
from reprostack.registry import history, journal, store, tags
from reprostack.runs import verify

POINTS = ["after-journal", "after-registry-write", "after-history-append", "after-commit", "after-tags",
          "after-last-good"]
COMMITTED = {"after-commit", "after-tags", "after-last-good"}  # the commit decides: from here on, completed


NAME = params_of(REPO).model_name



@pytest.fixture
def project(production_once, tmp_path):
    return clone(production_once, tmp_path / "project")


def killed(root, point, *args):
    result = subprocess.run([sys.executable, "-m", "reprostack", *args], cwd=root, capture_output=True, text=True,
                            env={**os.environ, faults.ENV: point})
    assert result.returncode == -signal.SIGKILL, (point, result.stderr)


def state(root):
    return ((root / store.REGISTRY_FILE).read_bytes(), (root / history.HISTORY_FILE).read_bytes(),
            sorted(git(root, "tag", "--list").split()), git(root, "rev-parse", "HEAD"))


def production(root):
    return [v["version"] for m in store.read(root)["models"] for v in m["versions"] if v["stage"] == "production"]


def consistent(root):
    """The end state, checked without the journal: history replay == registry.json, `gto show`
    == registry.json in production, every version tagged on its release commit, every stage tag
    made by a logged change, registry files committed and nothing staged, no journal left."""
    assert verify.check_registry(root, config.load_params(root / "params.yaml"))["problems"] == []
    data = json.loads((root / store.REGISTRY_FILE).read_text())
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
    for path in (store.REGISTRY_FILE, history.HISTORY_FILE):
        assert git(root, "show", f"HEAD:{path}").encode() == (root / path).read_bytes()
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""
    assert not (root / journal.JOURNAL_FILE).exists() and not (root / journal.BEFORE_FILE).exists()
    assert (root / store.LAST_GOOD_FILE).read_bytes() == (root / store.REGISTRY_FILE).read_bytes()
    assert not tags.stale_locks(root)


@pytest.mark.parametrize("point", POINTS)
# rollback and demote go through promote's journal code (promotion.apply_moves): their matrix is
# the slow suite's, promote's the fast one's
@pytest.mark.parametrize("action", ["promote", pytest.param("rollback", marks=pytest.mark.slow),
                                    pytest.param("demote", marks=pytest.mark.slow)])
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
    assert cli(project, "registry", "demote" if production(project) else "promote", NAME,
               production(project)[0] if production(project) else "v0.2.0").returncode == 0
    consistent(project)


@pytest.mark.parametrize("point, done", [("after-registry-write", False), ("after-history-append", True)])
def test_without_commits_the_history_line_decides(project, point, done):
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("  commit: true", "  commit: false"))
    head = git(project, "rev-parse", "HEAD")
    killed(project, f"promote.{point}", "registry", "promote", NAME, "v0.2.0")
    assert verify.check_registry(project, config.load_params(params))["problems"] == []
    assert production(project) == (["v0.2.0"] if done else ["v0.1.0"])
    assert history.replay(history.read(project))[NAME]["v0.2.0"] == ("production" if done else "dev")
    assert git(project, "rev-parse", "HEAD") == head and not (project / journal.JOURNAL_FILE).exists()


def test_the_next_command_recovers_without_verify(project):
    killed(project, "promote.after-history-append", "registry", "promote", NAME, "v0.2.0")
    assert (project / journal.JOURNAL_FILE).exists() and production(project) == ["v0.2.0"]  # half-done on disk
    result = cli(project, "registry", "promote", NAME, "v0.2.0", "--to", "staging")
    assert result.returncode == 0, result.stderr
    consistent(project)
    assert production(project) == ["v0.1.0"]  # the killed promote was undone, not completed


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after-journal", "after-store", "after-prepare", *POINTS[1:]])
def test_a_killed_release_is_completed_or_undone(project, point):
    make_candidate(project)
    before = state(project)
    killed(project, f"release.{point}", "release", NAME)
    consistent(project)
    if point in COMMITTED:
        assert store.latest_version(store.read(project), NAME) == "v0.3.0"
        assert git(project, "cat-file", "-t", f"{NAME}@v0.3.0").strip() == "tag"
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
    for trial in range(12):
        version = "v0.2.0" if production(project) == ["v0.1.0"] else "v0.1.0"
        proc = subprocess.Popen([sys.executable, "-m", "reprostack", "registry", "promote", NAME, version],
                                cwd=project, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    assert not tags.stale_locks(project)
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
    hook.write_text("#!/bin/sh\n[ \"$1\" = prepared ] && grep -q refs/tags/ && exit 1\nexit 0\n")
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
    hook.write_text("#!/bin/sh\n[ \"$1\" = prepared ] || exit 0\nrefs=$(cat)\n"
                    "if echo \"$refs\" | grep -q refs/tags/ && [ ! -e .git/tags-failed ]; then touch .git/tags-failed; exit 1; fi\n"
                    "if echo \"$refs\" | grep -q refs/heads/ && [ -e .git/tags-failed ]; then exit 1; fi\nexit 0\n")
    hook.chmod(0o755)
    result = cli(project, "registry", "promote", NAME, "v0.2.0")
    hook.unlink()
    assert (project / ".git" / "tags-failed").exists(), "the hook never fired"
    assert result.returncode == 0, result.stderr
    assert production(project) == ["v0.2.0"]
    consistent(project)


# ---- corruption -----------------------------------------------------------------------------

def test_a_truncated_history_line_is_reported_never_glued_onto(project):
    log = project / history.HISTORY_FILE
    size = log.stat().st_size
    with open(log, "ab") as handle:
        handle.write(b'{"schema_version": 1, "action": "prom')
    before = state(project)
    problems = verify.check_registry(project, config.load_params(project / "params.yaml"))["problems"]
    assert len(problems) == 1 and "truncated line" in problems[0] and f"truncate -s {size}" in problems[0]
    result = cli(project, "registry", "promote", NAME, "v0.2.0")
    assert result.returncode == 1 and "truncated line" in result.stderr and result.stderr.count("\n") == 1
    assert state(project) == before
    subprocess.run(["truncate", "-s", str(size), str(history.HISTORY_FILE)], cwd=project, check=True)  # the fix
    consistent(project)


def test_a_hand_edited_registry_is_caught_by_the_history_replay(project):
    path = project / store.REGISTRY_FILE
    path.write_text(path.read_text().replace('"stage": "dev"', '"stage": "staging"'))
    problems = verify.check_registry(project, config.load_params(project / "params.yaml"))["problems"]
    assert any("registry.json has staging, the history log has dev" in p for p in problems)
    fix = problems[0].split("restore both with `")[1].split("`")[0]
    subprocess.run(fix, shell=True, cwd=project, check=True)
    consistent(project)


def test_an_unknown_key_in_registry_json_is_one_line(project):
    path = project / store.REGISTRY_FILE
    data = json.loads(path.read_text())
    data["models"][0]["versions"][0]["stagee"] = "dev"
    path.write_text(json.dumps(data))
    result = cli(project, "registry", "list")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "models.0.versions.0.stagee: Extra inputs are not permitted" in result.stderr


def test_a_deleted_stage_tag_is_named_and_re_created_on_its_commit(project):
    from reprostack.registry import reconcile

    tag = [t for e in history.read(project) for t in e["tags"] if "#production#" in t][-1]
    target = git(project, "rev-parse", f"{tag}^{{commit}}").strip()
    git(project, "tag", "-d", tag)
    problems = verify.check_registry(project, config.load_params(project / "params.yaml"))["problems"]
    assert any(f"made are gone: {tag}; fix: `reprostack verify --fix`" in p for p in problems), problems
    assert any("`gto show` has nothing" in p and p.endswith("fix: `reprostack verify --fix`") for p in problems)
    assert reconcile.restore_stage_tags(project) == [tag]
    assert git(project, "rev-parse", f"{tag}^{{commit}}").strip() == target
    consistent(project)


def test_orphan_stage_tags_are_reported_and_the_fix_removes_them(project):
    commit = git(project, "rev-parse", f"{NAME}@v0.2.0^{{commit}}").strip()
    git(project, "tag", "-a", f"{NAME}#staging#77", commit, "-m", "by hand")
    problems = verify.check_registry(project, config.load_params(project / "params.yaml"))["problems"]
    assert any(f"{NAME}#staging#77" in p for p in problems)
    fix = next(p for p in problems if "git tag -d" in p).split("fix: `")[1].rstrip("`")
    subprocess.run(fix.split(), cwd=project, check=True)
    consistent(project)


def _failing(root):
    report = json.loads(cli(root, "verify", "--json").stdout)
    return {name: s["problems"] for name, s in report.items() if isinstance(s, dict) and s["problems"]}


def _released(root, version="v0.1.0"):
    folder = root / "models" / NAME / version
    for path in folder.iterdir():
        path.chmod(0o644)  # a user's edit gets past DVC's read-only files
    return folder


def _tamper_released_model(root):
    with open(_released(root) / "model.pkl", "ab") as handle:
        handle.write(b"\0")


def _forge_released_metrics(root):
    path = _released(root) / "metrics.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "accuracy": 0.999}))


def _delete_released_model(root):
    (_released(root) / "model.pkl").unlink()


def _delete_production_tag(root):
    made = [t for e in history.read(root) for t in e["tags"] if "#production#" in t]
    git(root, "tag", "-d", made[-1])


def _unknown_key_in_registry(root):
    path = root / store.REGISTRY_FILE
    data = json.loads(path.read_text())
    data["models"][0]["versions"][0]["stagee"] = "dev"
    path.write_text(json.dumps(data))


@pytest.mark.slow
@pytest.mark.parametrize("corrupt, section, expect", [
    (_tamper_released_model, "models", f"models/{NAME}/v0.1.0/model.pkl: sha256"),
    (_forge_released_metrics, "metrics", f"models/{NAME}/v0.1.0/metrics.json does not match its model"),
    (_delete_released_model, "registry", f"{NAME} v0.1.0: "),
    (_delete_production_tag, "registry", "`gto show` has nothing"),
    (_unknown_key_in_registry, "registry", "stagee: Extra inputs are not permitted"),
], ids=["tampered-released-model", "forged-released-metrics", "missing-released-model", "gto-disagreement",
        "unknown-key"])
def test_verify_names_each_registry_corruption_and_its_printed_fix_works(project, corrupt, section, expect):
    assert _failing(project) == {}
    corrupt(project)
    problems = _failing(project)
    line = next((p for p in problems.get(section, []) if expect in p), None)
    assert line is not None, problems
    command = line.rsplit("`", 2)[-2]  # every finding ends with the one command that fixes it
    fixed = subprocess.run(command, shell=True, cwd=project, capture_output=True, text=True,
                           env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"})
    assert fixed.returncode == 0, (command, fixed.stderr)
    assert _failing(project) == {}, command
    consistent(project)


# ---- a full disk ----------------------------------------------------------------------------

def _can_mount_tmpfs(path):
    path.mkdir()
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def _fill(mount, free_kb):
    """Leave free_kb of the tmpfs free; returns the filler to unlink."""
    filler, stat = mount / "filler", os.statvfs(mount)
    filler.write_bytes(b"\0" * max(0, stat.f_bavail * stat.f_frsize - free_kb * 1024))
    return filler


def _refused_and_unchanged(result, before, after):
    """A failed command is one line and changed nothing: never a failure that took effect."""
    lines = result.stderr.splitlines()  # release prints its progress first
    assert lines[-1].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    assert not any(line.startswith("error") for line in lines[:-1]), result.stderr
    assert after == before, result.stderr


@pytest.mark.slow
def test_promote_at_every_disk_full_level(production_once, tmp_path):
    mount = tmp_path / "small"
    if not _can_mount_tmpfs(mount):
        pytest.skip("cannot mount a tmpfs here (needs root in a container that allows mounts)")
    survived = []
    try:
        for free_kb in (0, 4, 8, 12, 16, 24, 32, 36, 40, 48, 56, 64, 96, 128, 256, 512):
            root = clone(production_once, mount / f"p{free_kb}")
            before = state(root)
            filler = _fill(mount, free_kb)
            result = cli(root, "registry", "promote", NAME, "v0.2.0")
            if result.returncode != 0:
                _refused_and_unchanged(result, before, state(root))
            filler.unlink()
            consistent(root)
            survived.append((free_kb, result.returncode))
            subprocess.run(["rm", "-rf", str(root)], check=True)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
    assert len(survived) == 16
    print("disk-full levels (KB free, exit code):", survived)


def _release_state(root):
    folder = root / "models" / NAME
    return state(root), sorted(p.name for p in folder.iterdir()), (folder / ".gitignore").read_bytes()


@pytest.mark.slow
def test_release_at_every_disk_full_level(released, tmp_path):
    mount = tmp_path / "small"
    if not _can_mount_tmpfs(mount):
        pytest.skip("cannot mount a tmpfs here (needs root in a container that allows mounts)")
    template = clone(released, tmp_path / "template")
    make_candidate(template)
    survived = []
    try:
        for free_kb in (0, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096):
            root = clone(template, mount / f"r{free_kb}")
            before = _release_state(root)
            filler = _fill(mount, free_kb)
            result = cli(root, "release", NAME)
            if result.returncode != 0:
                _refused_and_unchanged(result, before, _release_state(root))
            filler.unlink()
            consistent(root)
            if result.returncode != 0:  # with space again, the next release starts clean
                again = cli(root, "release", NAME)
                assert again.returncode == 0, (free_kb, again.stderr)
                consistent(root)
            assert store.latest_version(store.read(root), NAME) == "v0.3.0"
            survived.append((free_kb, result.returncode))
            subprocess.run(["rm", "-rf", str(root)], check=True)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
    assert len(survived) == 10
    print("release disk-full levels (KB free, exit code):", survived)


@pytest.mark.slow
def test_random_external_kills_of_release(project):
    make_candidate(project)
    rng, outcomes, said = random.Random(13), [], []
    for trial in range(8):
        errors = (project.parent / f"release-{trial}.err").open("w+")  # what a trial said, if it failed itself
        proc = subprocess.Popen([sys.executable, "-m", "reprostack", "release", NAME], cwd=project,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=errors)
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
        if store.latest_version(store.read(project), NAME) == "v0.3.0":
            break  # released whole: the tag, the store dir and its .dvc are there
        assert not (project / f"models/{NAME}/v0.3.0").exists() and not (project / f"models/{NAME}/v0.3.0.dvc").exists()
    if store.latest_version(store.read(project), NAME) != "v0.3.0":
        result = cli(project, "release", NAME)  # starts clean after any number of kills
        assert result.returncode == 0, result.stderr
        consistent(project)
    assert git(project, "cat-file", "-t", f"{NAME}@v0.3.0").strip() == "tag"
    assert (project / f"models/{NAME}/v0.3.0/model.pkl").exists()
    # every trial was killed, or (the last one) released; never an error of its own
    assert set(outcomes[:-1]) <= {-signal.SIGKILL} and outcomes[-1] in (-signal.SIGKILL, 0), (outcomes, said)
    assert outcomes[0] == -signal.SIGKILL, outcomes  # the first delay (0.8 s) is well inside a release
    print("release kill outcomes:", outcomes)
