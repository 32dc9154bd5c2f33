"""template/migrate.py: a project of the old shape (the whole platform renamed into it, rendered
by the template as it was at OLD_SHAPE) moves to the thin shape, keeping its config and history."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from factories import REPO, copy_project
from templating import answers, expected_files, only_project, project_files, render, render_env, run_py
from tools import git

# The last commit whose template rendered the whole platform into a project.
OLD_SHAPE = "c4dcf17"
MIGRATE = REPO / "template" / "migrate.py"


def old_shape_source(dest):
    if subprocess.run(["git", "cat-file", "-e", f"{OLD_SHAPE}^{{commit}}"], cwd=REPO).returncode:
        pytest.skip(f"commit {OLD_SHAPE} (the old template) is not in this clone")
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", OLD_SHAPE], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "old template"]):
        git(dest, *args)
    return dest


def migrate(project, *args, kill_at=None):
    env = render_env(project.parent.parent / "home")
    if kill_at:
        env["REPROSTACK_KILL_AT"] = f"migrate-project.{kill_at}"
    return subprocess.run([sys.executable, str(MIGRATE), str(project), *args], capture_output=True, text=True, env=env)


def test_an_old_shape_project_moves_to_the_thin_shape_keeping_its_config_and_history(tmp_path):
    old = old_shape_source(tmp_path / "old-template")
    assert (
        render(tmp_path / "out", {"package_name": "acme", "project_name": "Acme Desk"}, template=str(old)).returncode
        == 0
    )
    project = only_project(tmp_path / "out")
    assert (project / "src" / "acme" / "cli" / "__init__.py").is_file()  # the old shape indeed
    (project / "runs" / "20260101T000000000000Z-abcdef.json").write_text('{"a run": "record"}\n')
    logreg = project / "conf" / "model" / "logreg.yaml"
    logreg.write_text(logreg.read_text().replace("C: 1.0", "C: 0.5"))
    git(project, "add", "-A")
    git(project, "commit", "-qm", "our history and our C")
    new = copy_project(tmp_path / "new-template")

    (project / "scratch.txt").write_text("uncommitted")
    refused = migrate(project, "--template", str(new))
    assert refused.returncode == 1 and refused.stderr.strip().splitlines() == [
        f"error: {project}: uncommitted changes; commit or stash them first, so `git diff` shows the move"
    ]
    (project / "scratch.txt").unlink()

    # killed between removing the old platform and writing the thin files: the next run undoes the
    # half move (its intent in .git/ names the commit it started from) and moves again
    killed = migrate(project, "--template", str(new), kill_at="after-remove")
    assert killed.returncode == -9 and not (project / "src" / "acme" / "cli").exists()
    assert (project / ".git" / "reprostack-migrate").is_file() and git(project, "status", "--porcelain").strip()
    moved = migrate(project, "--template", str(new))
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert moved.stdout.startswith("undid an interrupted migrate")
    assert not (project / ".git" / "reprostack-migrate").exists()
    context = {
        **answers("defaults"),
        "package_name": "acme",
        "project_name": "Acme Desk",
        "project_slug": "acme-desk",
        "model_name": "acme-desk",
    }
    # conf/ is the project's own and kept as it was: no conf/policy.yaml (no promotion rules) until it adds one
    assert project_files(project) == (expected_files(context) - {"conf/policy.yaml"}) | {
        "README.before-thin.md",
        "runs/20260101T000000000000Z-abcdef.json",
    }
    assert "C: 0.5" in logreg.read_text()  # its own config kept
    assert "html_template = plots/offline.html" in (project / ".dvc" / "config").read_text()  # offline plots
    head = git(new, "rev-parse", "HEAD").strip()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == head
    assert f"@ git+file://{new}@{head}" in (project / "requirements.lock").read_text()
    tests = run_py(
        project, "", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_config.py", "tests/test_data.py"
    )
    assert tests.returncode == 0 and "6 passed" in tests.stdout, tests.stdout[-3000:]
