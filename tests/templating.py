"""Rendering the cookiecutter template in tests: the answers matrix, cookiecutter in process (its
Python API) or as a command, and the thin file set a rendered project holds."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from factories import REPO
from tools import VENV_BIN


def _by_path(name: str):
    """A module of template/ by its path: template/ stays off sys.path, so an in-process render
    from another copy of the template imports that copy's Jinja extension, not this one."""
    spec = importlib.util.spec_from_file_location(f"templating_{name}", REPO / "template" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scaffold = _by_path("scaffold")  # the template's modules, used by the tests through this module
warm_env = _by_path("warm_env")

COOKIECUTTER = json.loads((REPO / "template" / "cookiecutter.json").read_text())
MARKERS = ("{{", "{%")

# name -> answers (the rest default). Each is rendered once per session.
MATRIX = {
    "defaults": {},
    "renamed": {
        "project_name": "Support Tickets",
        "package_name": "ticket_triage",
        "model_name": "triage",
        "dataset_name": "tickets",
        "id_column": "ticket_id",
        "text_column": "body",
        "label_column": "queue",
        "classifier": "random_forest",
        "python_version": "3.12",
        "embedding_model": "all-MiniLM-L6-v2",
        "author": 'Ada "Bugs" O\'Brien',
        "description": 'Routes tickets: "fast" & offline',
        "license": "Apache-2.0",
        "library_extras": "serve",
    },
    "no-sample-data": {
        "project_name": "Bare Bones",
        "sample_data": "no",
        "license": "none",
        "package_name": "bare",
        "embedding_model": "/opt/models/my-encoder/",
        "library_extras": "",
    },
}
# The embedding config each entry's model gets (named after the model; the shipped one keeps its name).
EMBEDDING_CONF = {"all-MiniLM-L6-v2": "all-minilm-l6-v2", "/opt/models/my-encoder/": "my-encoder"}
# Words only the shipped sample speaks of: a project without it must not.
SAMPLE_WORDS = re.compile(r"\bsample\b|text-classifier|striker|sports|650 texts|650 short", re.I)


def answers(name: str) -> dict:
    """The full answers of a matrix entry, as cookiecutter derives the defaults."""
    context = {k: (v[0] if isinstance(v, list) else v) for k, v in COOKIECUTTER.items() if not k.startswith("_")}
    words = MATRIX[name].get("project_name", context["project_name"]).lower().split()
    # the Jinja defaults of cookiecutter.json, for the simple names used here
    context.update(project_slug="-".join(words), package_name="_".join(words), model_name="-".join(words))
    context.update(MATRIX[name])
    if "dataset_name" not in MATRIX[name]:
        context["dataset_name"] = "sample" if context["sample_data"] == "yes" else context["project_slug"]
    return context


def conf_names(context: dict) -> tuple[str, str]:
    """(data, embedding) config names the project's conf/config.yaml chooses."""
    shipped = scaffold.edits.defaults(REPO)
    return context["dataset_name"], EMBEDDING_CONF.get(context["embedding_model"], shipped["embedding"])


def render_env(home: Path) -> dict:
    # Renders shared by several tests outlive the per-test isolation fixture, so isolate them here.
    return {
        **os.environ,
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
    }


def render(
    out: Path, extra: dict, template: str = str(REPO), env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """cookiecutter's command line (for what a user sees: one-line errors, exit codes)."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(VENV_BIN / "cookiecutter"),
        template,
        "--directory",
        "template",
        "--no-input",
        "--output-dir",
        str(out),
        *[f"{k}={v}" for k, v in extra.items()],
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or render_env(out.parent / "home"), cwd=cwd)


def render_in_process(out: Path, extra: dict, template: Path = REPO) -> Path:
    """cookiecutter's Python API, as a program would call it; the new project's directory."""
    from cookiecutter.main import cookiecutter

    # No module cache is cleared between renders from different copies of the template: the
    # Jinja extension finds the copy under way itself (reprostack_template.current_template_dir).
    out.mkdir(parents=True, exist_ok=True)
    return Path(
        cookiecutter(str(template), directory="template", no_input=True, output_dir=str(out), extra_context=extra)
    )


def only_project(out: Path) -> Path:
    (project,) = [p for p in out.iterdir() if p.is_dir()]
    return project


_RENDERED: dict[str, Path] = {}


def rendered_once(name: str, tmp_path_factory) -> Path:
    """Each matrix entry is rendered once per session and shared by the tests that read it."""
    if name not in _RENDERED:
        _RENDERED[name] = render_in_process(tmp_path_factory.mktemp(name) / "out", MATRIX[name])
    return _RENDERED[name]


def project_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def expected_files(context: dict) -> set[str]:
    """The thin project: what it owns, what it shares with this repository, its lock and state."""
    data, embedding = conf_names(context)
    pkg = context["package_name"]
    files = {
        # owned (cookiecutter templates)
        "README.md",
        "Makefile",
        "pyproject.toml",
        ".github/workflows/ci.yml",
        f"src/{pkg}/__init__.py",
        f"src/{pkg}/data.py",
        "tests/test_data.py",
        "tests/test_config.py",
        "tests/test_pipeline.py",
        # shared with this repository
        "conf/config.yaml",
        f"conf/data/{data}.yaml",
        f"conf/embedding/{embedding}.yaml",
        "conf/model/logreg.yaml",
        "conf/model/random_forest.yaml",
        "conf/policy.yaml",
        "conf/registry/default.yaml",
        "conf/serve/default.yaml",
        "dvc.yaml",
        "params.yaml",
        ".dvc/config",
        ".dvc/plots/offline.html",  # `dvc plots show` renders offline (report/plots.py)
        ".dvc/.gitignore",
        ".dvcignore",
        ".gitignore",
        "data/.gitignore",
        "models/.gitignore",
        "runs/.gitkeep",
        "runs/stages/pending-record.txt",
        "runs/stages/params-drift.txt",
        # written by the hook
        "requirements.lock",
        ".cruft.json",
    }
    files.add("data/raw/texts.csv" if context["sample_data"] == "yes" else "data/raw/README.md")
    if context["license"] != "none":
        files.add("LICENSE")
    return files


def python_lines(project: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in project.rglob("*.py") if ".git" not in p.parts)


def run_py(project: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code] if code else [sys.executable]
    return subprocess.run(
        [*command, *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{project / 'src'}{os.pathsep}{REPO / 'src'}"},
    )
