"""Every verify finding names the fix that fixes it: moved and deleted tags, edited release files,
a tampered model with and without the DVC cache, two production holders. Each test breaks the
state, takes the command verify printed, runs it as printed (a shell), and asserts the state is
whole again (registry_faults.consistent checks tags and registry without the journal)."""

import json
import shutil
import subprocess

import pytest
import tools
from registry_faults import (
    NAME,
    consistent,
    production_project,  # noqa: F401  (the `project` fixture)
)
from tools import VENV_BIN, free_port, git, verify_problems
from tools import run_cli as cli

from reprostack.registry import catalog, history


def failing(root):
    return verify_problems(root)


def run_fix(root, line):
    command = line.rsplit("`", 2)[-2]  # every finding ends with the one command that fixes it
    assert "<" not in command and "URL" not in command, line  # never a placeholder as if runnable
    return tools.run_fix(root, command)


def released_file(root, name, version="v0.1.0"):
    path = root / "models" / NAME / version / name
    path.chmod(0o644)  # a user's edit gets past DVC's read-only files
    return path


def delete_release_tag(root):
    git(root, "tag", "-d", f"{NAME}@v0.1.0")


def move_release_tag(root):
    git(root, "tag", "-f", "-a", f"{NAME}@v0.1.0", "-m", "moved by hand", "HEAD~1")


def move_stage_tag(root):
    tag = [t for e in history.read(root) for t in e["tags"] if "#production#" in t][-1]
    git(root, "tag", "-f", "-a", tag, "-m", "moved by hand", f"{NAME}@v0.2.0^{{commit}}")


def edit_params(root):
    path = released_file(root, "params.json")
    data = json.loads(path.read_text())
    data["seed"] = data.get("seed", 0) + 1
    path.write_text(json.dumps(data))


def edit_card(root):
    with open(released_file(root, "MODEL_CARD.md"), "a") as handle:
        handle.write("edited\n")


def tamper_model(root):
    with open(released_file(root, "model.pkl"), "ab") as handle:
        handle.write(b"\0")


CASES = {
    "release-tag-deleted": (delete_release_tag, "registry", "release tags are gone"),
    "release-tag-moved": (move_release_tag, "registry", "tags moved off the commit"),
    "stage-tag-moved": (move_stage_tag, "registry", "tags moved off the commit"),
    "params-json-edited": (edit_params, "registry", "params.json: params sha256"),
    "card-edited": (edit_card, "models", "MODEL_CARD.md differ from the release's record"),
    "tampered-model": (tamper_model, "models", "model.pkl: sha256"),
}


FAST = {"release-tag-moved", "params-json-edited"}  # the rest run under -m slow (the fast suite's budget)


@pytest.mark.parametrize("case", [pytest.param(c, marks=() if c in FAST else pytest.mark.slow) for c in CASES])
def test_each_finding_is_fixed_by_the_command_verify_prints(project, case):
    corrupt, section, expect = CASES[case]
    assert failing(project) == {}
    corrupt(project)
    problems = failing(project)
    line = next((p for p in problems.get(section, []) if expect in p), None)
    assert line is not None, problems
    if "tag" in case:  # GTO now disagrees too, and names the same fix, not registry.json
        assert all("git checkout" not in p for p in problems.get("registry", [])), problems
    if case == "tampered-model":  # predict (and serve, through the same loader) advise the same fix
        predicted = cli(project, "predict", NAME, "some text")
        assert predicted.returncode == 1 and predicted.stderr.count("\n") == 1
        assert predicted.stderr.strip().endswith(f"restore it with `dvc checkout --force models/{NAME}/v0.1.0.dvc`")
    run_fix(project, line)
    assert failing(project) == {}
    consistent(project)


@pytest.mark.slow
def test_a_tampered_model_without_the_dvc_cache_is_restored_from_the_store(project, tmp_path):
    assert cli(project, "store", "init", str(tmp_path / "store")).returncode == 0
    git(project, "commit", "-qm", "the team's store", ".dvc/config")
    assert cli(project, "store", "push").returncode == 0
    shutil.rmtree(project / ".dvc" / "cache")
    assert failing(project) == {}  # nothing is damaged yet
    tamper_model(project)
    line = next(p for p in failing(project)["models"] if "model.pkl: sha256" in p)
    assert run_fix(project, line) == f"dvc pull --force models/{NAME}/v0.1.0.dvc"  # not a checkout from no cache
    assert failing(project) == {}
    consistent(project)


def test_a_tampered_model_with_no_copy_anywhere_is_called_lost_not_given_a_command_that_deletes_it(project):
    shutil.rmtree(project / ".dvc" / "cache")
    tamper_model(project)
    line = next(p for p in failing(project)["models"] if "model.pkl: sha256" in p)
    assert "dvc checkout" not in line and "no store is configured" in line
    command = line.rsplit("`", 2)[-2]
    assert command == "reprostack store init <url> && reprostack store pull" and "with <url> the store" in line
    predicted = cli(project, "predict", NAME, "some text")
    assert predicted.returncode == 1 and "dvc checkout" not in predicted.stderr and "dvc repro" not in predicted.stderr
    assert (project / "models" / NAME / "v0.1.0" / "model.pkl").exists()  # nothing advised deleted it


def test_two_production_holders_are_refused_by_predict_and_verify_with_a_fix_that_works(project):
    path = project / catalog.REGISTRY_FILE
    path.write_text(path.read_text().replace('"stage": "dev"', '"stage": "production"'))
    predicted = cli(project, "predict", NAME, "some text")
    assert predicted.returncode == 1 and predicted.stderr.count("\n") == 1, predicted.stderr
    assert "2 versions in production" in predicted.stderr
    served = subprocess.run(
        [str(VENV_BIN / "reprostack"), "serve", "--model", NAME, "--port", str(free_port())],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode == 1 and "2 versions in production" in served.stderr.splitlines()[-1], served.stderr
    assert "Traceback" not in served.stderr
    line = next(p for p in failing(project)["registry"] if "2 versions in production" in p)
    run_fix(project, line)
    assert failing(project) == {}
    consistent(project)
    assert cli(project, "predict", NAME, "some text").returncode == 0
