"""Model registry, promotion rules, rollback and history, with real git, DVC and GTO (releases:
test_registry_release.py).

The project is built by the real stages (stand-in encoder) and released by registry.release once
per session (conftest.released_once); each test works on its own copy."""

import json
import os
import subprocess
import sys

import pytest
from factories import REPO, params_of
from tools import VENV_BIN, git, registry_state, run_cli

from reprostack.core.errors import IntegrityError, RegistryError, ReleaseError, SnapshotError
from reprostack.registry import audit, catalog, history, loader, promotion, release, tags

NAME = params_of(REPO).model_name  # a project made from the template names its model otherwise


@pytest.fixture
def root(released):
    return released[0]


def gto_production(root, name=NAME):
    return tags.gto_show(root).get(name, {}).get("stage", {}).get("production")


def test_promote_archives_previous_production_and_gto_agrees(root):
    params = params_of(root)
    promotion.promote(root, params, NAME, "v0.1.0", reason="first")
    event = promotion.promote(root, params, NAME, "v0.2.0", reason="better f1")
    rules = params.registry
    assert event["changes"] == [
        {"version": "v0.2.0", "from": rules.initial, "to": rules.production},
        {"version": "v0.1.0", "from": rules.production, "to": rules.replaced_to},
    ]
    data = catalog.read(root, params.registry)
    assert [v["stage"] for v in data["models"][0]["versions"]] == [rules.replaced_to, rules.production]
    assert gto_production(root) == "v0.2.0"
    assert git(root, "log", "-1", "--format=%B").count("reason: better f1") == 1
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""
    report = audit.check_registry(root, params)
    assert report["problems"] == [] and report["checked"] == 2


def test_rollback_in_one_command_toggles_and_is_audited(root):
    params = params_of(root)
    with pytest.raises(RegistryError, match="no earlier production version"):
        promotion.rollback(root, params, NAME)
    promotion.promote(root, params, NAME, "v0.1.0")
    promotion.promote(root, params, NAME, "v0.2.0")
    result = run_cli(root, "registry", "rollback", NAME, "--reason", "p99 regression", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["changes"][0] == {
        "version": "v0.1.0",
        "from": params.registry.replaced_to,
        "to": params.registry.production,
    }
    assert loader.load_model(NAME, root=root).version == "v0.1.0"
    promotion.rollback(root, params, NAME)
    assert loader.load_model(NAME, root=root).version == "v0.2.0" and gto_production(root) == "v0.2.0"
    shown = json.loads(run_cli(root, "registry", "history", NAME, "--json").stdout)
    assert [e["action"] for e in shown] == ["release", "release", "promote", "promote", "rollback", "rollback"]
    assert shown[4]["reason"] == "p99 regression" and shown[4]["user"].startswith("Test <")
    assert all(e["time"] for e in shown)


@pytest.mark.parametrize(
    "args,message",
    [
        (["registry", "promote", NAME, "v9.9.9"], f"{NAME} has no version v9.9.9"),
        (["registry", "promote", "../x", "v0.1.0"], "invalid model name '../x'"),
        (["registry", "promote", "text clf", "v0.1.0"], "invalid model name 'text clf'"),
        (["registry", "promote", NAME, "1.0"], "invalid version '1.0'"),
        (["registry", "promote", NAME, "v0.1.0", "--to", "qa"], "unknown stage 'qa'"),
        (["registry", "promote", NAME, "v0.1.0", "--to", "archived"], "is a demotion"),
        (["registry", "rollback", "nosuch"], "no model 'nosuch'"),
        (["registry", "history", "nosuch"], "no model 'nosuch'"),
        (["release", "../x"], "invalid model name '../x'"),
        (["predict", "--model", "a b", "hi"], "invalid model name 'a b'"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(root, args, message):
    before = registry_state(root)
    result = run_cli(root, *args)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and message in result.stderr
    assert registry_state(root) == before


def test_promoting_a_tampered_model_fails_and_changes_nothing(root):
    params = params_of(root)
    path = root / "models" / NAME / "v0.2.0" / "model.pkl"
    before = registry_state(root)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(IntegrityError, match="the released model was changed") as refused:
        promotion.promote(root, params, NAME, "v0.2.0")
    assert registry_state(root) == before
    with pytest.raises(IntegrityError, match="was changed after training"):
        loader.load_model(NAME, stage=params.registry.initial, root=root)  # verified before unpickling
    problems = audit.check_registry(root, params)["problems"]
    fix = f"dvc checkout --force models/{NAME}/v0.2.0.dvc"
    assert any("sha256" in p and p.endswith(f"fix: `{fix}`") for p in problems), problems
    assert str(refused.value).endswith(f"restore it with `{fix}`")  # promote and verify advise the same
    subprocess.run(
        fix.split(),
        cwd=root,
        check=True,
        capture_output=True,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    promotion.promote(root, params, NAME, "v0.2.0")  # the advice worked


def test_promoting_onto_a_tampered_snapshot_fails(root):
    params = params_of(root)
    entry = catalog.require_version(catalog.read(root), NAME, "v0.1.0")
    snap = root / params.paths.snapshots / entry["data"]["dataset"] / entry["data"]["snapshot"] / params.data.file
    snap.write_text(snap.read_text() + "999,extra row,sports\n")
    before = registry_state(root)
    with pytest.raises(SnapshotError, match="failed verification"):
        promotion.promote(root, params, NAME, "v0.1.0")
    assert registry_state(root) == before


def test_only_released_versions_enter_production(root):
    params = params_of(root)
    git(root, "tag", "-d", f"{NAME}@v0.1.0")
    before = registry_state(root)
    with pytest.raises(RegistryError, match=f"has no release tag {NAME}@v0.1.0"):
        promotion.promote(root, params, NAME, "v0.1.0", to="staging")
    assert registry_state(root) == before
    promotion.demote(root, params, NAME, "v0.1.0")  # archiving needs no release
    assert catalog.require_version(catalog.read(root), NAME, "v0.1.0")["stage"] == "archived"


def test_broken_registry_is_a_clear_error_and_last_good_copy_is_kept(root):
    good = (root / catalog.REGISTRY_FILE).read_bytes()
    assert (root / catalog.LAST_GOOD_FILE).read_bytes() == good
    for broken in (
        '{"schema_version": 1, "models": [',
        json.dumps({"schema_version": 1, "models": [{"name": NAME, "versions": [{"version": "v1", "stage": "dev"}]}]}),
        '{"schema_version": 7}',
    ):
        (root / catalog.REGISTRY_FILE).write_text(broken)
        result = run_cli(root, "registry", "promote", NAME, "v0.1.0")
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert "last good copy" in result.stderr and ".registry.last-good.json" in result.stderr
        assert (root / catalog.REGISTRY_FILE).read_text() == broken
        assert (root / catalog.LAST_GOOD_FILE).read_bytes() == good
    data = json.loads(good)
    data["models"][0]["versions"][1]["stage"] = "production"
    data["models"][0]["versions"][0]["stage"] = "production"
    (root / catalog.REGISTRY_FILE).write_text(json.dumps(data))
    with pytest.raises(RegistryError, match="has 2 versions in production"):
        catalog.read(root, params_of(root).registry)


def test_release_refuses_a_dirty_tree_and_a_released_candidate(root):
    (root / "README.md").write_text("changed\n")
    before = registry_state(root)
    with pytest.raises(ReleaseError, match="uncommitted changes .*README.md"):
        release.release(root, NAME)
    assert registry_state(root) == before
    git(root, "checkout", "README.md")
    with pytest.raises(ReleaseError, match=f"already released as {NAME} v0.2.0"):
        release.release(root, NAME)


def test_a_held_lock_is_a_clear_error(root):
    params = params_of(root)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from reprostack.registry import catalog\n"
                f"with catalog.locked({str(root)!r}, 5):\n    print('held', flush=True); time.sleep(30)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        before = registry_state(root)
        quick = params.model_copy(update={"registry": params.registry.model_copy(update={"lock_timeout": 0.3})})
        with pytest.raises(RegistryError, match=r"locked by pid \d+"):
            promotion.promote(root, quick, NAME, "v0.1.0")
        assert registry_state(root) == before
    finally:
        holder.kill()
        holder.wait()


def test_concurrent_registry_commands_lose_no_update(root):
    params = params_of(root)
    promotion.promote(root, params, NAME, "v0.1.0")
    promotion.promote(root, params, NAME, "v0.2.0")
    procs, rounds = 4, 3
    script = (
        "import sys; from reprostack.cli import main\n"
        f"sys.exit(max(main(['registry', 'rollback', {NAME!r}, '--reason', f'p{{sys.argv[1]}}']) for _ in "
        f"range({rounds})))"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(i)], cwd=root, stderr=subprocess.PIPE, text=True)
        for i in range(procs)
    ]
    assert [w.wait() for w in workers] == [0] * procs, [w.stderr.read() for w in workers]
    rollbacks = [e for e in history.read(root) if e["action"] == "rollback"]
    assert len(rollbacks) == procs * rounds
    # each rollback saw the one before it: production alternates, ending where it started
    assert [e["changes"][0]["version"] for e in rollbacks] == ["v0.1.0", "v0.2.0"] * (procs * rounds // 2)
    assert loader.load_model(NAME, root=root).version == "v0.2.0"
    assert int(git(root, "rev-list", "--count", "HEAD")) >= procs * rounds + 6
    assert audit.check_registry(root, params)["problems"] == []


def test_verify_reports_gto_disagreement(root):
    params = params_of(root)
    promotion.promote(root, params, NAME, "v0.2.0")
    commit = git(root, "rev-parse", f"{NAME}@v0.1.0^{{commit}}").strip()
    # someone assigns v0.1.0 to production with GTO's tag format, behind the registry's back
    subprocess.run(
        ["git", "tag", "-a", f"{NAME}#production#99", commit, "-m", "by hand"],
        cwd=root,
        check=True,
        env={**os.environ, "GIT_COMMITTER_DATE": "@4102444800 +0000"},
    )
    problems = audit.check_registry(root, params)["problems"]
    assert problems == [
        f"stage tags no registry change made: {NAME}#production#99; fix: `git tag -d {NAME}#production#99`",
        f"{NAME}: registry.json has v0.2.0 in production, `gto show` has v0.1.0; "
        f"fix: `git tag -d {NAME}#production#99`",
    ]
    subprocess.run(["git", "tag", "-d", f"{NAME}#production#99"], cwd=root, check=True, capture_output=True)
    assert audit.check_registry(root, params)["problems"] == []  # the printed fix fixes both
