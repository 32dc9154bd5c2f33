"""Model registry, releases, promotion rules, rollback and history, with real git, DVC and GTO."""

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
from conftest import copy_project, git
from registry_project import cli, clone, make_candidate, make_project

from reprostack import config, names
from reprostack.errors import IntegrityError, RegistryError, ReleaseError, SnapshotError
from reprostack.registry import history, loader, promotion, release, store, tags
from reprostack.runs import verify


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """textclf v0.1.0 and v0.2.0 released (both in dev); tests work on clones of it."""
    root = make_project(tmp_path_factory.mktemp("released") / "project")
    make_candidate(root, seed=1)
    first = release.release(root, "textclf")
    make_candidate(root, seed=2, C=0.5)
    second = release.release(root, "textclf")
    return root, first, second


@pytest.fixture
def project(released, tmp_path):
    return clone(released[0], tmp_path / "project")


def params_of(root):
    return config.load_params(root / "params.yaml")


def state(root):
    """Everything a failed command must leave unchanged."""
    tags = git(root, "tag", "--list").split()
    log = (root / history.HISTORY_FILE).read_bytes()
    return (root / store.REGISTRY_FILE).read_bytes(), log, tags, git(root, "rev-parse", "HEAD")


def gto_production(root, name="textclf"):
    return tags.gto_show(root).get(name, {}).get("stage", {}).get("production")


def test_release_registers_copies_commits_and_tags(released):
    root, first, second = released
    assert (first["version"], second["version"]) == ("v0.1.0", "v0.2.0")  # minor: retrained, same interface
    data = store.read(root, params_of(root).registry)
    entry = store.require_version(data, "textclf", "v0.1.0")
    assert entry["stage"] == "dev" and entry["git"]["tag"] == "textclf@v0.1.0"
    assert entry["vectors"]["version"] == 3 and entry["data"]["snapshot"] and len(entry["params_sha256"]) == 64
    assert entry["run_id"] and entry["metrics"]["accuracy"] == 0.901
    store_dir = root / "models" / "textclf" / "v0.1.0"
    assert sorted(p.name for p in store_dir.iterdir()) == ["MODEL_CARD.md", "metrics.json", "model.json", "model.pkl",
                                                       "params.json"]
    assert not (store_dir / "model.pkl").stat().st_mode & 0o222  # DVC cache link: read-only
    assert "Intended use" in (store_dir / "MODEL_CARD.md").read_text()
    assert (root / "models" / "textclf" / "v0.1.0.dvc").is_file()
    assert git(root, "cat-file", "-t", "textclf@v0.1.0").strip() == "tag"  # annotated
    # the tag is on the release commit, whose parent built the candidate
    assert git(root, "rev-parse", "textclf@v0.1.0^{commit}^").strip() == entry["git"]["commit"]
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""
    assert [e["action"] for e in history.read(root)] == ["release", "release"]
    assert tags.gto_show(root)["textclf"]["version"] == "v0.2.0"


def test_promote_archives_previous_production_and_gto_agrees(project):
    params = params_of(project)
    promotion.promote(project, params, "textclf", "v0.1.0", reason="first")
    event = promotion.promote(project, params, "textclf", "v0.2.0", reason="better f1")
    assert event["changes"] == [{"version": "v0.2.0", "from": "dev", "to": "production"},
                                {"version": "v0.1.0", "from": "production", "to": "archived"}]
    data = store.read(project, params.registry)
    assert [v["stage"] for v in data["models"][0]["versions"]] == ["archived", "production"]
    assert gto_production(project) == "v0.2.0"
    assert git(project, "log", "-1", "--format=%B").count("reason: better f1") == 1
    assert git(project, "status", "--porcelain", "--untracked-files=no") == ""
    report = verify.check_registry(project, params)
    assert report["problems"] == [] and report["checked"] == 2


def test_rollback_in_one_command_toggles_and_is_audited(project):
    params = params_of(project)
    with pytest.raises(RegistryError, match="no earlier production version"):
        promotion.rollback(project, params, "textclf")
    promotion.promote(project, params, "textclf", "v0.1.0")
    promotion.promote(project, params, "textclf", "v0.2.0")
    result = cli(project, "registry", "rollback", "textclf", "--reason", "p99 regression", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["changes"][0] == {"version": "v0.1.0", "from": "archived", "to": "production"}
    assert loader.load_model("textclf", root=project).version == "v0.1.0"
    promotion.rollback(project, params, "textclf")
    assert loader.load_model("textclf", root=project).version == "v0.2.0" and gto_production(project) == "v0.2.0"
    shown = json.loads(cli(project, "registry", "history", "textclf", "--json").stdout)
    assert [e["action"] for e in shown] == ["release", "release", "promote", "promote", "rollback", "rollback"]
    assert shown[4]["reason"] == "p99 regression" and shown[4]["user"].startswith("Test <")
    assert all(e["time"] for e in shown)


@pytest.mark.parametrize("args,message", [
    (["registry", "promote", "textclf", "v9.9.9"], "textclf has no version v9.9.9"),
    (["registry", "promote", "../x", "v0.1.0"], "invalid model name '../x'"),
    (["registry", "promote", "text clf", "v0.1.0"], "invalid model name 'text clf'"),
    (["registry", "promote", "textclf", "1.0"], "invalid version '1.0'"),
    (["registry", "promote", "textclf", "v0.1.0", "--to", "qa"], "unknown stage 'qa'"),
    (["registry", "promote", "textclf", "v0.1.0", "--to", "archived"], "is a demotion"),
    (["registry", "rollback", "nosuch"], "no model 'nosuch'"),
    (["registry", "history", "nosuch"], "no model 'nosuch'"),
    (["release", "../x"], "invalid model name '../x'"),
    (["predict", "--model", "a b", "hi"], "invalid model name 'a b'"),
])
def test_bad_input_is_one_line_and_changes_nothing(project, args, message):
    before = state(project)
    result = cli(project, *args)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and message in result.stderr
    assert state(project) == before


def test_promoting_a_tampered_model_fails_and_changes_nothing(project):
    params = params_of(project)
    path = project / "models" / "textclf" / "v0.2.0" / "model.pkl"
    before = state(project)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(IntegrityError, match="the released model was changed"):
        promotion.promote(project, params, "textclf", "v0.2.0")
    assert state(project) == before
    with pytest.raises(IntegrityError, match="was changed after training"):
        loader.load_model("textclf", stage="dev", root=project)  # verified before unpickling
    assert any("sha256" in p for p in verify.check_registry(project, params)["problems"])


def test_promoting_onto_a_tampered_snapshot_fails(project):
    params = params_of(project)
    entry = store.require_version(store.read(project), "textclf", "v0.1.0")
    snap = project / params.paths.snapshots / entry["data"]["dataset"] / entry["data"]["snapshot"] / "texts.csv"
    snap.write_text(snap.read_text() + "999,extra row,sports\n")
    before = state(project)
    with pytest.raises(SnapshotError, match="failed verification"):
        promotion.promote(project, params, "textclf", "v0.1.0")
    assert state(project) == before


def test_only_released_versions_enter_production(project):
    params = params_of(project)
    git(project, "tag", "-d", "textclf@v0.1.0")
    before = state(project)
    with pytest.raises(RegistryError, match="has no release tag textclf@v0.1.0"):
        promotion.promote(project, params, "textclf", "v0.1.0", to="staging")
    assert state(project) == before
    promotion.demote(project, params, "textclf", "v0.1.0")  # archiving needs no release
    assert store.require_version(store.read(project), "textclf", "v0.1.0")["stage"] == "archived"


def test_broken_registry_is_a_clear_error_and_last_good_copy_is_kept(project):
    good = (project / store.REGISTRY_FILE).read_bytes()
    assert (project / store.LAST_GOOD_FILE).read_bytes() == good
    for broken in ('{"schema_version": 1, "models": [', json.dumps({"schema_version": 1, "models": [
            {"name": "textclf", "versions": [{"version": "v1", "stage": "dev"}]}]}), '{"schema_version": 7}'):
        (project / store.REGISTRY_FILE).write_text(broken)
        result = cli(project, "registry", "promote", "textclf", "v0.1.0")
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert "last good copy" in result.stderr and ".registry.last-good.json" in result.stderr
        assert (project / store.REGISTRY_FILE).read_text() == broken
        assert (project / store.LAST_GOOD_FILE).read_bytes() == good
    data = json.loads(good)
    data["models"][0]["versions"][1]["stage"] = "production"
    data["models"][0]["versions"][0]["stage"] = "production"
    (project / store.REGISTRY_FILE).write_text(json.dumps(data))
    with pytest.raises(RegistryError, match="has 2 versions in production"):
        store.read(project, params_of(project).registry)


def test_release_refuses_dirty_tree_existing_tag_and_small_bumps(project):
    (project / "README.md").write_text("changed\n")
    with pytest.raises(ReleaseError, match="uncommitted changes .*README.md"):
        release.release(project, "textclf")
    git(project, "checkout", "README.md")
    with pytest.raises(ReleaseError, match="already released as textclf v0.2.0"):
        release.release(project, "textclf")
    make_candidate(project, seed=3)
    before = state(project)
    git(project, "tag", "-a", "textclf@v0.3.0", "-m", "by hand")
    with pytest.raises(ReleaseError, match="tag textclf@v0.3.0 already exists"):
        release.release(project, "textclf")
    git(project, "tag", "-d", "textclf@v0.3.0")
    with pytest.raises(ReleaseError, match="not newer than the latest release v0.2.0"):
        release.release(project, "textclf", version="v0.1.5")
    with pytest.raises(ReleaseError, match="needs a minor bump"):
        release.release(project, "textclf", bump="patch")
    assert state(project) == before
    assert not (project / "models" / "textclf" / "v0.3.0").exists()
    assert release.release(project, "textclf", bump="major")["version"] == "v1.0.0"


def test_release_refuses_a_stale_pipeline(tmp_path):
    root = copy_project(tmp_path / "fresh")  # the real dvc.yaml, nothing built yet
    with pytest.raises(ReleaseError, match="pipeline is not up to date"):
        release.release(root, "textclf")
    assert not (root / store.REGISTRY_FILE).exists()


def test_a_held_lock_is_a_clear_error(project):
    params = params_of(project)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from reprostack.registry import store\n"
        f"with store.locked({str(project)!r}, 5):\n    print('held', flush=True); time.sleep(30)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = state(project)
        quick = replace(params, registry=replace(params.registry, lock_timeout=0.3))
        with pytest.raises(RegistryError, match=r"locked by pid \d+"):
            promotion.promote(project, quick, "textclf", "v0.1.0")
        assert state(project) == before
    finally:
        holder.kill()
        holder.wait()


def test_concurrent_registry_commands_lose_no_update(project):
    params = params_of(project)
    promotion.promote(project, params, "textclf", "v0.1.0")
    promotion.promote(project, params, "textclf", "v0.2.0")
    procs, rounds = 4, 3
    script = ("import sys; from reprostack.cli import main\n"
              f"sys.exit(max(main(['registry', 'rollback', 'textclf', '--reason', f'p{{sys.argv[1]}}']) for _ in range({rounds})))")
    workers = [subprocess.Popen([sys.executable, "-c", script, str(i)], cwd=project, stderr=subprocess.PIPE, text=True)
               for i in range(procs)]
    assert [w.wait() for w in workers] == [0] * procs, [w.stderr.read() for w in workers]
    rollbacks = [e for e in history.read(project) if e["action"] == "rollback"]
    assert len(rollbacks) == procs * rounds
    # each rollback saw the one before it: production alternates, ending where it started
    assert [e["changes"][0]["version"] for e in rollbacks] == ["v0.1.0", "v0.2.0"] * (procs * rounds // 2)
    assert loader.load_model("textclf", root=project).version == "v0.2.0"
    assert int(git(project, "rev-list", "--count", "HEAD")) >= procs * rounds + 6
    assert verify.check_registry(project, params)["problems"] == []


def test_verify_reports_gto_disagreement(project):
    params = params_of(project)
    promotion.promote(project, params, "textclf", "v0.2.0")
    commit = git(project, "rev-parse", "textclf@v0.1.0^{commit}").strip()
    # someone assigns v0.1.0 to production with GTO's tag format, behind the registry's back
    subprocess.run(["git", "tag", "-a", "textclf#production#99", commit, "-m", "by hand"], cwd=project, check=True,
                   env={**os.environ, "GIT_COMMITTER_DATE": "@4102444800 +0000"})
    problems = verify.check_registry(project, params)["problems"]
    assert problems == ["stage tags no registry change made: textclf#production#99; remove them with "
                        "`git tag -d textclf#production#99`",
                        "textclf: registry.json has v0.2.0 in production, `gto show` has v0.1.0"]


def test_names_and_semver_rules():
    for bad in ("../x", "a b", "A", "", "-x", "x/y", "x" * 65, None):
        with pytest.raises(RegistryError):
            names.check_model_name(bad)
    assert names.bump(None, "minor") == "v0.1.0" and names.bump(None, "major") == "v1.0.0"
    assert names.bump("v1.2.3", "patch") == "v1.2.4" and names.bump("v1.2.3", "minor") == "v1.3.0"
    assert names.bump("v1.2.3", "major") == "v2.0.0"
    assert names.parse_ref("textclf@staging") == ("textclf", "staging")
    assert names.parse_ref("textclf@v1.0.0") == ("textclf", "v1.0.0")
    assert sorted(["v1.10.0", "v1.9.0", "v0.2.0"], key=names.version_key) == ["v0.2.0", "v1.9.0", "v1.10.0"]
