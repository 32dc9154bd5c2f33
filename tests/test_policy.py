"""Promotion policy as code (conf/policy.yaml): each rule refusing and passing, the override kept in
the history, `policy check`'s exit codes for CI, and promote refusing a demotion in disguise.

Real projects (stand-in encoder), real git and registry; v0.1.0 and v0.2.0 released at dev
(conftest.released_once): v0.2.0's accuracy is a little below v0.1.0's."""

from pathlib import Path

import pytest
import yaml
from factories import REPO, clone, params_of
from tools import git, registry_state, run_cli

from reprostack.core.errors import ConfigError, RegistryError
from reprostack.registry import catalog, history, policy, promotion
from reprostack.runs import reproductions

NAME = params_of(REPO).model_name


@pytest.fixture
def root(released):
    return released[0]


@pytest.fixture
def production(production_once, tmp_path):
    """v0.1.0 in production, v0.2.0 at dev."""
    return clone(production_once, tmp_path / "production")


def set_policy(root, stages: dict) -> None:
    (root / policy.POLICY_FILE).write_text(yaml.safe_dump({"stages": stages}))


def metric(root, version, name="accuracy"):
    return catalog.require_version(catalog.read(root), NAME, version)["metrics"][name]


def test_the_default_policy_lets_the_suites_promotions_through(production):
    shipped = yaml.safe_load((REPO / policy.POLICY_FILE).read_text())
    assert shipped["stages"]["production"]["metrics"]  # the default has rules, and the tests satisfy them
    assert (production / policy.POLICY_FILE).read_text() == (REPO / policy.POLICY_FILE).read_text()
    promotion.promote(production, params_of(production), NAME, "v0.2.0")
    assert catalog.in_stage(catalog.read(production), NAME, "production")[0]["version"] == "v0.2.0"


def test_promote_of_the_production_version_to_dev_is_a_demotion(production):
    before = registry_state(production)
    result = run_cli(production, "registry", "promote", NAME, "v0.1.0", "--to", "dev")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {NAME} v0.1.0 is in production; moving it to dev is a demotion and leaves production "
        f"empty: use `reprostack registry demote {NAME} v0.1.0 --to dev`"
    )
    assert registry_state(production) == before
    fixed = run_cli(production, "registry", "demote", NAME, "v0.1.0", "--to", "dev")  # the named command works
    assert fixed.returncode == 0, fixed.stderr
    assert catalog.in_stage(catalog.read(production), NAME, "production") == []


def test_metric_rules_refuse_with_one_line_each_then_pass(production):
    params = params_of(production)
    drop = round(metric(production, "v0.1.0") - metric(production, "v0.2.0"), 6)
    assert drop > 0  # the fixture's second release is a little worse
    set_policy(
        production,
        {
            "production": {
                "metrics": [
                    {"name": "accuracy", "max_drop": drop / 2},
                    {"name": "macro_f1", "min": 0.99},
                    {"name": "auc", "min": 0.5},
                ]
            }
        },
    )
    before = registry_state(production)
    with pytest.raises(RegistryError) as refused:
        promotion.promote(production, params, NAME, "v0.2.0")
    lines = str(refused.value).splitlines()
    assert lines[0] == f"the policy for production ({policy.POLICY_FILE}) refuses this:"
    assert lines[1].startswith(f"  accuracy drop <= {drop / 2}: accuracy ") and "of v0.1.0" in lines[1]
    assert lines[2].startswith("  macro_f1 >= 0.99: macro_f1 0.")
    assert lines[3] == "  metric auc: v0.2.0 has no metric 'auc'"
    assert "--override" in lines[-1] and len(lines) == 5
    assert registry_state(production) == before
    set_policy(production, {"production": {"metrics": [{"name": "accuracy", "max_drop": drop * 2}]}})
    promotion.promote(production, params, NAME, "v0.2.0")  # within the allowed drop: passes


def test_minimum_passes_for_the_first_holder(root):
    set_policy(root, {"production": {"metrics": [{"name": "accuracy", "min": metric(root, "v0.1.0")}]}})
    found = policy.evaluate(root, "runs", params_of(root).registry, catalog.read(root), NAME, "v0.1.0", "production")
    assert [(r, ok) for r, ok, _ in found] == [(f"accuracy >= {metric(root, 'v0.1.0')}", True)]


def test_required_previous_stage_refuses_then_passes(root):
    params = params_of(root)
    set_policy(root, {"production": {"after": ["staging"]}})
    with pytest.raises(RegistryError, match="after staging: v0.1.0 has never been in staging"):
        promotion.promote(root, params, NAME, "v0.1.0")
    promotion.promote(root, params, NAME, "v0.1.0", to="staging")
    promotion.promote(root, params, NAME, "v0.1.0")  # it has been in staging now
    assert catalog.in_stage(catalog.read(root), NAME, "production")[0]["version"] == "v0.1.0"


def test_branch_rule_refuses_a_release_commit_off_the_branch_then_passes(root):
    params = params_of(root)
    set_policy(root, {"production": {"branch": "release"}})
    with pytest.raises(RegistryError, match=r"branch release: release commit [0-9a-f]{10} is not on release"):
        promotion.promote(root, params, NAME, "v0.1.0")
    git(root, "branch", "release", f"{NAME}@v0.1.0")
    promotion.promote(root, params, NAME, "v0.1.0")


def test_reproduce_rule_needs_a_verdict_for_the_versions_own_model(root):
    params = params_of(root)
    entry = catalog.require_version(catalog.read(root), NAME, "v0.1.0")
    set_policy(root, {"production": {"reproduce": "bit-identical"}})
    with pytest.raises(RegistryError, match=f"run {entry['run_id']}: never reproduced; run `reprostack runs reproduce"):
        promotion.promote(root, params, NAME, "v0.1.0")

    def verdict(word, sha):  # what `runs reproduce` keeps (api.reproduce_run calls reproductions.save)
        result = {"run_id": entry["run_id"], "verdict": word, "commit": "c", "model_sha256": {"original": sha}}
        reproductions.save(Path(root) / params.paths.runs, result)

    verdict("within tolerance", entry["model"]["sha256"])
    with pytest.raises(RegistryError, match="reproduce bit-identical: .*within tolerance"):
        promotion.promote(root, params, NAME, "v0.1.0")
    verdict("bit-identical", "0" * 64)
    with pytest.raises(RegistryError, match="the stored verdict is for another model"):
        promotion.promote(root, params, NAME, "v0.1.0")
    verdict("bit-identical", entry["model"]["sha256"])
    promotion.promote(root, params, NAME, "v0.1.0")


def test_override_moves_it_and_the_history_keeps_why(root):
    set_policy(root, {"production": {"after": ["staging"]}})
    result = run_cli(root, "registry", "promote", NAME, "v0.1.0", "--override", "hotfix for incident 42")
    assert result.returncode == 0, result.stderr
    assert "policy overridden: hotfix for incident 42 (failed: after staging:" in result.stdout
    last = history.read(root, NAME)[-1]
    assert last["action"] == "promote" and last["policy_override"].startswith("hotfix for incident 42 (failed: after")
    assert "policy override: hotfix for incident 42" in git(root, "log", "-1", "--format=%B")
    shown = run_cli(root, "registry", "history", NAME).stdout
    assert "[policy overridden: hotfix for incident 42 (failed: after staging:" in shown
    empty = run_cli(root, "registry", "promote", NAME, "v0.2.0", "--to", "staging")  # no rule for staging: no override
    assert empty.returncode == 0 and "policy_override" not in history.read(root, NAME)[-1]
    blank = run_cli(root, "registry", "promote", NAME, "v0.2.0", "--override", " ")
    assert blank.returncode == 1 and "--override needs a reason" in blank.stderr


def test_policy_check_exit_codes_for_ci(root):
    set_policy(root, {"production": {"after": ["staging"]}})
    before = registry_state(root)
    refused = run_cli(root, "policy", "check", NAME, "v0.1.0", "--json")
    assert refused.returncode == 3 and refused.json()["allowed"] is False
    assert refused.json()["rules"] == [
        {"rule": "after staging", "passed": False, "detail": "v0.1.0 has never been in staging"}
    ]
    assert registry_state(root) == before  # a check changes nothing
    allowed = run_cli(root, "policy", "check", NAME, "v0.1.0", "--to", "staging")
    assert allowed.returncode == 0 and "allowed (0 rules)" in allowed.stdout
    unknown = run_cli(root, "policy", "check", NAME, "v9.9.9")
    assert unknown.returncode == 1 and f"{NAME} has no version v9.9.9" in unknown.stderr
    (root / policy.POLICY_FILE).write_text("stages:\n  production:\n    metrics: [{name: accuracy}]\n")
    bad = run_cli(root, "policy", "check", NAME, "v0.1.0")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "conf/policy.yaml: stages.production.metrics.0" in bad.stderr and "needs min or max_drop" in bad.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stages: [oops", "conf/policy.yaml is not valid YAML at line"),
        ("stages:\n  qa: {}\n", "unknown stage 'qa'"),
        ("stages:\n  production: {after: [prod]}\n", "unknown stage 'prod'"),
        ("stages:\n  production: {reproduce: maybe}\n", "stages.production.reproduce"),
        ("stages:\n  production: {metrics: [{name: a, max_drop: -1}]}\n", "max_drop"),
        ("stages:\n  production: {colour: red}\n", "stages.production.colour"),
    ],
)
def test_a_bad_policy_is_one_line(tmp_path, text, message):
    (tmp_path / "conf").mkdir()
    (tmp_path / policy.POLICY_FILE).write_text(text)
    with pytest.raises(ConfigError) as bad:
        policy.load(tmp_path, params_of(REPO).registry)
    assert message in str(bad.value) and "\n" not in str(bad.value)
