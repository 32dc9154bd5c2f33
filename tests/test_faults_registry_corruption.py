"""Registry corruption by hand: a truncated history line, a hand-edited registry.json, deleted or
orphan stage tags, tampered releases; each is named by `verify` and the fix it prints works
(the end state checked by registry_faults.consistent)."""

import json
import os
import subprocess

import pytest
from registry_faults import (
    NAME,
    consistent,
    production_project,  # noqa: F401  (the `project` fixture)
    state,
)
from tools import VENV_BIN, git
from tools import run_cli as cli  # follow-up commands in process: the kills are what cross a process boundary

from reprostack.core import config
from reprostack.registry import audit, catalog, history


def test_a_truncated_history_line_is_reported_never_glued_onto(project):
    log = project / history.HISTORY_FILE
    size = log.stat().st_size
    with open(log, "ab") as handle:
        handle.write(b'{"schema_version": 1, "action": "prom')
    before = state(project)
    problems = audit.check_registry(project, config.load_params(project / "params.yaml"))["problems"]
    assert len(problems) == 1 and "truncated line" in problems[0] and f"truncate -s {size}" in problems[0]
    result = cli(project, "registry", "promote", NAME, "v0.2.0")
    assert result.returncode == 1 and "truncated line" in result.stderr and result.stderr.count("\n") == 1
    assert state(project) == before
    subprocess.run(["truncate", "-s", str(size), str(history.HISTORY_FILE)], cwd=project, check=True)  # the fix
    consistent(project)


def test_a_hand_edited_registry_is_caught_by_the_history_replay(project):
    path = project / catalog.REGISTRY_FILE
    path.write_text(path.read_text().replace('"stage": "dev"', '"stage": "staging"'))
    problems = audit.check_registry(project, config.load_params(project / "params.yaml"))["problems"]
    assert any("registry.json has staging, the history log has dev" in p for p in problems)
    fix = problems[0].split("restore both with `")[1].split("`")[0]
    subprocess.run(fix, shell=True, cwd=project, check=True)
    consistent(project)


def test_an_unknown_key_in_registry_json_is_one_line(project):
    path = project / catalog.REGISTRY_FILE
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
    problems = audit.check_registry(project, config.load_params(project / "params.yaml"))["problems"]
    assert any(f"made are gone: {tag}; fix: `reprostack verify --fix`" in p for p in problems), problems
    assert any("`gto show` has nothing" in p and p.endswith("fix: `reprostack verify --fix`") for p in problems)
    assert reconcile.restore_stage_tags(project) == [tag]
    assert git(project, "rev-parse", f"{tag}^{{commit}}").strip() == target
    consistent(project)


def test_orphan_stage_tags_are_reported_and_the_fix_removes_them(project):
    commit = git(project, "rev-parse", f"{NAME}@v0.2.0^{{commit}}").strip()
    git(project, "tag", "-a", f"{NAME}#staging#77", commit, "-m", "by hand")
    problems = audit.check_registry(project, config.load_params(project / "params.yaml"))["problems"]
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
    path = root / catalog.REGISTRY_FILE
    data = json.loads(path.read_text())
    data["models"][0]["versions"][0]["stagee"] = "dev"
    path.write_text(json.dumps(data))


@pytest.mark.slow
@pytest.mark.parametrize(
    "corrupt, section, expect",
    [
        (_tamper_released_model, "models", f"models/{NAME}/v0.1.0/model.pkl: sha256"),
        (_forge_released_metrics, "metrics", f"models/{NAME}/v0.1.0/metrics.json does not match its model"),
        (_delete_released_model, "registry", f"{NAME} v0.1.0: "),
        (_delete_production_tag, "registry", "`gto show` has nothing"),
        (_unknown_key_in_registry, "registry", "stagee: Extra inputs are not permitted"),
    ],
    ids=[
        "tampered-released-model",
        "forged-released-metrics",
        "missing-released-model",
        "gto-disagreement",
        "unknown-key",
    ],
)
def test_verify_names_each_registry_corruption_and_its_printed_fix_works(project, corrupt, section, expect):
    assert _failing(project) == {}
    corrupt(project)
    problems = _failing(project)
    line = next((p for p in problems.get(section, []) if expect in p), None)
    assert line is not None, problems
    command = line.rsplit("`", 2)[-2]  # every finding ends with the one command that fixes it
    fixed = subprocess.run(
        command,
        shell=True,
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    assert fixed.returncode == 0, (command, fixed.stderr)
    assert _failing(project) == {}, command
    consistent(project)
