"""The template renders from this repository's own files, wherever they come from (a relative path,
a git URL, a copy without git), and cruft follows the template's later commits."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from factories import REPO, copy_project, write_csv
from templating import (
    COOKIECUTTER, answers, expected_files, only_project, project_files, render, render_env, rendered_once, run_py,
    scaffold, source_files, warm_env,
)
from tools import VENV_BIN, git


# ---- one source of truth ----------------------------------------------------------------------

def test_classifier_choices_are_the_conf_model_files():
    assert sorted(COOKIECUTTER["classifier"]) == sorted(p.stem for p in (REPO / "conf" / "model").glob("*.yaml"))
    assert COOKIECUTTER["classifier"][0] == scaffold.edits.defaults(REPO)["model"]


def test_a_new_source_file_reaches_new_projects(tmp_path):
    """Files are not enumerated: a file added to the repository is rendered with the package renamed."""
    source = copy_project(tmp_path / "source")
    (source / "src" / "reprostack" / "extra.py").write_text("from reprostack.core.errors import ReprostackError\n")
    (source / "conf" / "model" / "svm.yaml").write_text("name: svm\n")
    result = render(tmp_path / "out", {"package_name": "acme"}, template=str(source))
    assert result.returncode == 0, result.stderr
    project = only_project(tmp_path / "out")
    assert (project / "src" / "acme" / "extra.py").read_text() == "from acme.errors import AcmeError\n"
    assert (project / "conf" / "model" / "svm.yaml").is_file()


def test_render_from_a_relative_path(tmp_path):
    """The hooks find the repository when cookiecutter is given a relative path (its _repo_dir is relative)."""
    result = render(tmp_path / "out", {"package_name": "relative"}, template=REPO.name, cwd=REPO.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (only_project(tmp_path / "out") / "src" / "relative" / "cli" / "__init__.py").is_file()
    # cruft will clone it from the project's directory: the absolute path, not the relative one
    assert json.loads((only_project(tmp_path / "out") / ".cruft.json").read_text())["template"] == str(REPO)


def test_render_from_a_git_url(tmp_path):
    """cookiecutter clones a git URL (here file://, offline) and the hooks find the clone."""
    source = copy_project(tmp_path / "source")
    env = render_env(tmp_path / "home")
    result = render(tmp_path / "out", {"package_name": "cloned"}, template=f"file://{source}", env=env)
    assert result.returncode == 0, result.stderr
    project = only_project(tmp_path / "out")
    assert (tmp_path / "home" / ".cookiecutters" / "source" / ".git").is_dir()
    assert (project / "src" / "cloned" / "cli" / "__init__.py").is_file()
    assert run_py(project, "import cloned.cli").returncode == 0
    assert json.loads((project / ".cruft.json").read_text())["template"] == f"file://{source}"


def test_render_from_a_copy_without_git(tmp_path):
    """No git in the source (e.g. an unpacked archive): a walk honouring .gitignore gives the same files."""
    source = tmp_path / "source"
    for rel in source_files():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, source / rel)
    for junk in (".venv/bin/python", "data/snapshots/sample/x/texts.csv", "src/reprostack/__pycache__/a.pyc",
                 "models/candidate/model.pkl", "data/vectors.json", ".dvc/tmp/lock", "dvclive/x.json"):
        (source / junk).parent.mkdir(parents=True, exist_ok=True)
        (source / junk).write_text("junk")
    result = render(tmp_path / "out", {}, template=str(source))
    assert result.returncode == 0, result.stderr
    # no .cruft.json: cruft can only follow a git repository (the hook says so)
    assert project_files(only_project(tmp_path / "out")) == set(expected_files(answers("defaults"))) - {".cruft.json"}
    assert "no .cruft.json" in result.stdout


def test_no_git_identity_commits_as_the_author_and_writes_no_config(tmp_path):
    env = {k: v for k, v in render_env(tmp_path / "home").items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER"))}
    result = render(tmp_path / "out", {"author": "Grace Hopper"}, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "note: no git identity configured" in result.stdout
    project = only_project(tmp_path / "out")
    assert git(project, "log", "-1", "--format=%an").strip() == "Grace Hopper"
    assert "user.email" not in (project / ".git" / "config").read_text()


def test_a_git_identity_from_the_environment_commits_without_a_note(tmp_path):
    """GIT_AUTHOR_*/GIT_COMMITTER_* (render_env sets them, no config) are an identity too."""
    result = render(tmp_path / "out", {"author": "Grace Hopper"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no git identity" not in result.stdout + result.stderr
    project = only_project(tmp_path / "out")
    assert git(project, "log", "-1", "--format=%an <%ae>").strip() == "Test <test@example.invalid>"
    assert "user.email" not in (project / ".git" / "config").read_text()


def test_snapshot_takes_only_the_configured_file_into_the_dataset_directory(tmp_path_factory):
    """Without the sample: the user's CSV goes in, data/raw/README.md stays out, under data/snapshots/<dataset>/."""
    project = rendered_once("no-sample-data", tmp_path_factory)
    context = answers("no-sample-data")
    work = tmp_path_factory.mktemp("own-data") / "project"
    shutil.copytree(project, work)
    write_csv(work / "data" / "raw" / "texts.csv", [("a", "one text", "x"), ("b", "another", "y")])
    result = run_py(work, "", "-m", f"{context['package_name']}.stages.snapshot")
    assert result.returncode == 0, result.stderr
    (snapshot,) = (work / "data" / "snapshots" / context["dataset_name"]).iterdir()
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]] == ["texts.csv"]


# ---- template updates (cruft) -----------------------------------------------------------------

def test_cruft_update_brings_template_commits_and_keeps_the_projects_own_changes(tmp_path):
    """Render at X; the project changes a file; the template changes a file and adds one at Y:
    `make template-update` brings both, keeps the project's change. At Z the template changes a
    line the project changed too: shown as a conflict with both sides, never overwritten."""
    source = copy_project(tmp_path / "source")
    env = render_env(tmp_path / "home")
    assert render(tmp_path / "out", {"package_name": "acme"}, template=str(source), env=env).returncode == 0
    project = only_project(tmp_path / "out")
    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == str(source) and state["commit"] == git(source, "rev-parse", "HEAD").strip()
    assert state["directory"] == "template" and state["context"]["cookiecutter"]["package_name"] == "acme"
    venv = warm_env.make_warm_venv(project, tmp_path / "venv")
    env = {**env, "PYTHONPATH": ""}

    def cruft_check():
        return subprocess.run([str(venv / "bin" / "cruft"), "check"], cwd=project, capture_output=True, text=True, env=env)

    def template_update():
        return subprocess.run(["make", "template-update", "ARGS=-y", f"VENV={venv}"], cwd=project,
                              capture_output=True, text=True, env=env)

    def commit(repo: Path, message: str):
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", message)

    assert cruft_check().returncode == 0
    logreg = project / "conf" / "model" / "logreg.yaml"
    own = re.sub(r"^C: .*$", "C: 0.123", logreg.read_text(), count=1, flags=re.M)
    logreg.write_text(own)
    commit(project, "own regularisation")
    with (source / "Makefile").open("a") as makefile:
        makefile.write("# a template improvement at Y\n")
    (source / "src" / "reprostack" / "extra.py").write_text("from reprostack.core.errors import ReprostackError\n")
    commit(source, "Y")
    assert cruft_check().returncode != 0
    updated = template_update()
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert (project / "Makefile").read_text().endswith("# a template improvement at Y\n")
    assert (project / "src" / "acme" / "extra.py").read_text() == "from acme.errors import AcmeError\n"
    assert logreg.read_text() == own
    assert json.loads((project / ".cruft.json").read_text())["commit"] == git(source, "rev-parse", "HEAD").strip()
    commit(project, "template update to Y")
    assert cruft_check().returncode == 0

    readme = project / "README.md"
    line = next(x for x in readme.read_text().splitlines() if x.startswith("`make help`"))
    readme.write_text(readme.read_text().replace(line, "PROJECT'S OWN WORDING", 1))
    commit(project, "own README")
    (source / "README.md").write_text((source / "README.md").read_text().replace(line, "TEMPLATE'S NEW WORDING", 1))
    commit(source, "Z")
    conflicted = template_update()
    assert conflicted.returncode != 0
    assert "error: the update conflicts with your own changes" in conflicted.stdout + conflicted.stderr
    text = readme.read_text()
    assert "PROJECT'S OWN WORDING" in text and "TEMPLATE'S NEW WORDING" in text and "<<<<<<<" in text
    assert "README.md" in git(project, "ls-files", "--unmerged")


def test_cruft_create_renders_the_same_project_for_cruft_to_follow(tmp_path):
    """`cruft create` runs our hooks too; it writes .cruft.json itself after them, so the hook
    leaves git to the user (README) instead of committing a project cruft then changes."""
    source = copy_project(tmp_path / "source")
    env = render_env(tmp_path / "home")
    result = subprocess.run([str(VENV_BIN / "cruft"), "create", str(source), "--directory", "template", "--no-input",
                             "--output-dir", str(tmp_path / "out"), "--extra-context", '{"package_name": "viacruft"}'],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    project = only_project(tmp_path / "out")
    assert (project / "src" / "viacruft" / "cli" / "__init__.py").is_file() and not (project / ".git").exists()
    state = json.loads((project / ".cruft.json").read_text())
    assert state["commit"] == git(source, "rev-parse", "HEAD").strip()
    checked = subprocess.run([str(VENV_BIN / "cruft"), "check"], cwd=project, capture_output=True, text=True, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
