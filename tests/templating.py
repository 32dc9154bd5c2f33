"""Rendering the cookiecutter template in tests: the answers matrix, cookiecutter run in a temp dir,
and the files a rendered project should hold (shared by tests/test_template*.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from factories import REPO
from tools import VENV_BIN, git

sys.path.insert(0, str(REPO / "template"))
import scaffold  # noqa: E402,F401  (the template's modules; used by the tests through this module)
import warm_env  # noqa: E402,F401

COOKIECUTTER = json.loads((REPO / "template" / "cookiecutter.json").read_text())
MARKERS = ("{{", "{%")

# name -> answers (the rest default). Each is rendered once per session.
MATRIX = {
    "defaults": {},
    "spaces-and-capitals": {"project_name": "My Fancy NLP Project", "license": "BSD-3-Clause"},
    "renamed": {
        "project_name": "Support Tickets", "package_name": "ticket_triage", "model_name": "triage",
        "dataset_name": "tickets", "id_column": "ticket_id", "text_column": "body", "label_column": "queue",
        "classifier": "random_forest", "python_version": "3.12", "embedding_model": "all-MiniLM-L6-v2",
        "author": 'Ada "Bugs" O\'Brien', "description": 'Routes tickets: "fast" & offline', "license": "Apache-2.0",
    },
    "no-sample-data": {"sample_data": "no", "license": "none", "package_name": "bare",
                       "embedding_model": "/opt/models/my-encoder/"},
    "proprietary": {"license": "Proprietary", "package_name": "closed"},
}
# The embedding config each entry's model gets (named after the model; the shipped one keeps its name).
EMBEDDING_CONF = {"all-MiniLM-L6-v2": "all-minilm-l6-v2", "/opt/models/my-encoder/": "my-encoder"}
SAMPLE_WORD = re.compile(r"\bsample\b", re.I)


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
    return {**os.environ, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.invalid", "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.invalid",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}


def render(out: Path, extra: dict, template: str = str(REPO), env: dict | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [str(VENV_BIN / "cookiecutter"), template, "--directory", "template", "--no-input",
           "--output-dir", str(out), *[f"{k}={v}" for k, v in extra.items()]]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or render_env(out.parent / "home"), cwd=cwd)


def only_project(out: Path) -> Path:
    (project,) = [p for p in out.iterdir() if p.is_dir()]
    return project


_RENDERED: dict[str, Path] = {}


def rendered_once(name: str, tmp_path_factory) -> Path:
    """Each matrix entry is rendered once per session and shared by the tests that read it."""
    if name not in _RENDERED:
        out = tmp_path_factory.mktemp(name) / "out"
        result = render(out, MATRIX[name])
        assert result.returncode == 0, result.stdout + result.stderr
        _RENDERED[name] = only_project(out)
    return _RENDERED[name]


def project_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def source_files() -> list[str]:
    names = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    return [n for n in names if n and (REPO / n).is_file()]


def expected_files(context: dict) -> dict[str, str]:
    """Rendered path -> source path: the tracked files minus the documented exclusions, renamed."""
    shipped = scaffold.edits.defaults(REPO)
    data, embedding = conf_names(context)
    renamed = {f"conf/data/{shipped['data']}.yaml": f"conf/data/{data}.yaml",
               f"conf/embedding/{shipped['embedding']}.yaml": f"conf/embedding/{embedding}.yaml"}
    expected = {}
    for rel in source_files():
        if not scaffold.files.excluded(rel, context["sample_data"] == "yes"):
            target = renamed.get(rel, rel.replace("src/reprostack/", f"src/{context['package_name']}/", 1))
            expected[target] = rel
    if context["license"] != "none":
        expected["LICENSE"] = None  # rendered by cookiecutter from the chosen license
    expected[".github/workflows/ci.yml"] = None  # the project's tests and `cruft check`, ditto
    expected[".cruft.json"] = None
    if context["sample_data"] == "no":
        expected["data/raw/README.md"] = None
    return expected


def run_py(project: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code] if code else [sys.executable]
    return subprocess.run([*command, *args], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(project / "src")})
