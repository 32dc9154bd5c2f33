"""The template renders from this repository wherever it comes from (a relative path, a git URL,
a copy without git), pins the library at the commit it came from, and `cruft update` (`make
upgrade`) moves a project to a later template commit, pin included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from factories import REPO, copy_project, write_csv
from templating import (
    answers,
    expected_files,
    only_project,
    project_files,
    render,
    render_env,
    render_in_process,
    rendered_once,
    run_py,
    warm_env,
)
from tools import VENV_BIN, git

THIN_MAKEFILE = Path("template") / "{{project_dir(cookiecutter.project_slug, cookiecutter)}}" / "Makefile"
THIN_README = THIN_MAKEFILE.with_name("README.md")


def pin(project: Path) -> str:
    return next(x for x in (project / "requirements.lock").read_text().splitlines() if x.startswith("reprostack"))


def test_render_from_a_relative_path(tmp_path):
    """The hooks find the repository when cookiecutter is given a relative path (its _repo_dir is relative)."""
    result = render(tmp_path / "out", {"package_name": "relative"}, template=REPO.name, cwd=REPO.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    project = only_project(tmp_path / "out")
    assert (project / "src" / "relative" / "data.py").is_file()
    # cruft and pip clone it from the project's directory: the absolute path, not the relative one
    assert json.loads((project / ".cruft.json").read_text())["template"] == str(REPO)
    assert f" @ git+file://{REPO}@{git(REPO, 'rev-parse', 'HEAD').strip()}" in pin(project)


def test_render_from_a_git_url_pins_that_url(tmp_path):
    """cookiecutter clones a git URL (here file://, offline); the pin names the URL, not the clone."""
    source = copy_project(tmp_path / "source")
    env = render_env(tmp_path / "home")
    result = render(tmp_path / "out", {"package_name": "cloned"}, template=f"file://{source}", env=env)
    assert result.returncode == 0, result.stderr
    project = only_project(tmp_path / "out")
    assert (tmp_path / "home" / ".cookiecutters" / "source" / ".git").is_dir()
    assert json.loads((project / ".cruft.json").read_text())["template"] == f"file://{source}"
    assert pin(project).endswith(f" @ git+file://{source}@{git(source, 'rev-parse', 'HEAD').strip()}")
    assert "uncommitted" not in result.stdout


def test_uncommitted_changes_in_the_source_are_named_once(tmp_path):
    source = copy_project(tmp_path / "source")
    with (source / "src" / "reprostack" / "__init__.py").open("a") as handle:
        handle.write("# work in progress\n")
    result = render(tmp_path / "out", {}, template=str(source))
    assert result.returncode == 0, result.stderr
    notes = [x for x in result.stdout.splitlines() if "uncommitted changes" in x]
    assert len(notes) == 1 and "without them" in notes[0]
    assert pin(only_project(tmp_path / "out")).endswith(f"@{git(source, 'rev-parse', 'HEAD').strip()}")


def test_render_from_a_copy_without_git(tmp_path):
    """No git in the source (e.g. an unpacked archive): the shared files found by a walk honouring
    .gitignore, no .cruft.json, and the library pinned by its directory, with a note saying so."""
    source = tmp_path / "source"
    names = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for rel in filter(None, names):
        if (REPO / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, source / rel)
    for junk in ("data/snapshots/sample/x/texts.csv", "data/vectors.json", ".dvc/tmp/lock", "conf/__pycache__/x.yaml"):
        (source / junk).parent.mkdir(parents=True, exist_ok=True)
        (source / junk).write_text("junk")
    result = render(tmp_path / "out", {}, template=str(source))
    assert result.returncode == 0, result.stderr
    project = only_project(tmp_path / "out")
    assert project_files(project) == expected_files(answers("defaults")) - {".cruft.json"}
    assert "no .cruft.json" in result.stdout and "not from a commit" in result.stdout
    assert pin(project).endswith(f" @ file://{source}")


def test_no_git_identity_commits_as_the_author_and_writes_no_config(tmp_path):
    env = {k: v for k, v in render_env(tmp_path / "home").items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER"))}
    result = render(tmp_path / "out", {"author": "Grace Hopper"}, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "note: no git identity configured" in result.stdout
    project = only_project(tmp_path / "out")
    assert git(project, "log", "-1", "--format=%an").strip() == "Grace Hopper"
    assert "user.email" not in (project / ".git" / "config").read_text()


def test_snapshot_takes_only_the_configured_file_through_the_projects_hook(tmp_path_factory):
    """Without the sample: the user's CSV goes in, data/raw/README.md stays out, and the project's
    own data hook (src/bare/data.py, here changed to refuse a label) is what the stage applies."""
    project = rendered_once("no-sample-data", tmp_path_factory)
    work = tmp_path_factory.mktemp("own-data") / "project"
    shutil.copytree(project, work)
    write_csv(work / "data" / "raw" / "texts.csv", [("a", "one text", "x"), ("b", "another", "y")])
    result = run_py(work, "", "-m", "reprostack.stages.snapshot")
    assert result.returncode == 0, result.stderr
    (snapshot,) = (work / "data" / "snapshots" / answers("no-sample-data")["dataset_name"]).iterdir()
    assert [f["path"] for f in json.loads((snapshot / "manifest.json").read_text())["files"]] == ["texts.csv"]
    hook = work / "src" / "bare" / "data.py"
    hook.write_text(hook.read_text().replace("    return table\n", "    return table.texts\n"))
    refused = run_py(work, "", "-m", "reprostack.stages.snapshot")
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert "data.preprocess 'bare.data:preprocess' returned a list" in line


# ---- upgrades: cruft update across two template commits ---------------------------------------


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


def test_an_upgrade_moves_the_pin_brings_the_template_change_and_keeps_the_projects_edits(tmp_path):
    """Render at A; the project edits its README and its data hook; the template changes a thin
    file at B: `cruft update -y` moves the pin to B, brings B's change, keeps the edits. At C the
    template changes the README line the project changed: `make upgrade` stops with one line."""
    source = copy_project(tmp_path / "source")
    a = git(source, "rev-parse", "HEAD").strip()
    project = render_in_process(tmp_path / "out", {"package_name": "acme"}, template=source)
    assert pin(project).endswith(f"@{a}")
    readme, hook = project / "README.md", project / "src" / "acme" / "data.py"
    readme.write_text(readme.read_text().replace("## Two commands", "## Two commands (our team's)", 1))
    hook.write_text(hook.read_text() + "\n# our own note\n")
    commit(project, "our README and data hook")

    with (source / THIN_MAKEFILE).open("a") as makefile:
        makefile.write("# a template improvement at B\n")
    b = commit(source, "B")
    env = {**render_env(tmp_path / "home"), "PYTHONPATH": ""}
    updated = subprocess.run(
        [str(VENV_BIN / "cruft"), "update", "-y"], cwd=project, capture_output=True, text=True, env=env
    )
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert pin(project).endswith(f"@{b}") and json.loads((project / ".cruft.json").read_text())["commit"] == b
    assert (project / "Makefile").read_text().endswith("# a template improvement at B\n")
    assert "## Two commands (our team's)" in readme.read_text() and hook.read_text().endswith("# our own note\n")
    commit(project, "upgrade to B")

    thin_readme = source / THIN_README
    thin_readme.write_text(thin_readme.read_text().replace("## Two commands", "## The template's two commands", 1))
    commit(source, "C")
    venv = warm_env.make_warm_venv(project, tmp_path / "venv")
    upgrade = subprocess.run(
        ["make", "upgrade", "ARGS=-y", f"VENV={venv}"], cwd=project, capture_output=True, text=True, env=env
    )
    assert upgrade.returncode != 0
    errors = [x for x in (upgrade.stdout + upgrade.stderr).splitlines() if x.startswith("error: ")]
    assert errors == [
        "error: the update conflicts with your own changes (see git status: conflict markers or "
        "*.rej files); resolve them, commit, then make env"
    ]
    assert "pip install" not in upgrade.stdout  # stopped before rebuilding the environment
    text = readme.read_text()
    assert "(our team's)" in text and "The template's two commands" in text and "<<<<<<<" in text


def test_cruft_create_renders_the_same_project_pinned_at_crufts_commit(tmp_path):
    """`cruft create` runs our hooks too, with `_commit`; it writes .cruft.json itself after them,
    so the hook leaves git to the user."""
    source = copy_project(tmp_path / "source")
    env = render_env(tmp_path / "home")
    result = subprocess.run(
        [
            str(VENV_BIN / "cruft"),
            "create",
            str(source),
            "--directory",
            "template",
            "--no-input",
            "--output-dir",
            str(tmp_path / "out"),
            "--extra-context",
            '{"package_name": "viacruft"}',
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    project = only_project(tmp_path / "out")
    assert (project / "src" / "viacruft" / "data.py").is_file() and not (project / ".git").exists()
    head = git(source, "rev-parse", "HEAD").strip()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == head
    assert pin(project).endswith(f" @ git+file://{source}@{head}")


@pytest.mark.slow
def test_the_pin_line_installs_the_library_from_its_commit(tmp_path):
    """pip reads the pin as it stands in requirements.lock: a git clone at that commit, built. In
    a new venv, as on a fresh machine: its own pip (23.2 with this Python) rejects the pin's
    `name @ git+file://...@commit`, so the project's Makefile installs the locked pip first; this
    runs that Makefile line, then installs the pin with the pip it left."""
    source = copy_project(tmp_path / "source")
    project = render_in_process(tmp_path / "out", {}, template=source)
    line = pin(project)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (bootstrap,) = [x.strip() for x in (project / "Makefile").read_text().splitlines() if "'^pip=='" in x]
    command = bootstrap.replace("$(BIN)", str(venv / "bin")).replace("$$", "$")
    done = subprocess.run(["bash", "-c", command], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    locked = [x for x in (project / "requirements.lock").read_text().splitlines() if x.startswith("setuptools==")]
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *locked], check=True)
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(tmp_path / "target"),
            line,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    installed = tmp_path / "target" / "reprostack"
    assert (installed / "cli" / "__init__.py").is_file() and (installed / "data" / "hook.py").is_file()
    (dist,) = (tmp_path / "target").glob("reprostack-*.dist-info")
    direct = json.loads((dist / "direct_url.json").read_text())
    assert direct["vcs_info"]["commit_id"] == git(source, "rev-parse", "HEAD").strip()
