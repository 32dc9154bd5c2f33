"""The cookiecutter template, for real: render projects with cookiecutter into temp dirs and check
what they hold, that they import and run, and that bad answers stop with one line."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from factories import REPO, copy_project
from tools import VENV_BIN, git

sys.path.insert(0, str(REPO / "template"))
import scaffold  # noqa: E402
import warm_env  # noqa: E402

COOKIECUTTER = json.loads((REPO / "template" / "cookiecutter.json").read_text())
MARKERS = ("{{", "{%")

# name -> answers (the rest default). Each is rendered once per session.
MATRIX = {
    "defaults": {},
    "spaces-and-capitals": {"project_name": "My Fancy NLP Project", "license": "BSD-3-Clause"},
    "renamed": {
        "project_name": "Support Tickets", "package_name": "ticket_triage", "model_name": "triage",
        "id_column": "ticket_id", "text_column": "body", "label_column": "queue",
        "classifier": "random_forest", "python_version": "3.12", "embedding_model": "all-MiniLM-L6-v2",
        "author": 'Ada "Bugs" O\'Brien', "description": 'Routes tickets: "fast" & offline',
    },
    "no-sample-data": {"sample_data": "no", "license": "Proprietary", "package_name": "bare"},
}


def answers(name: str) -> dict:
    """The full answers of a matrix entry, as cookiecutter derives the defaults."""
    context = {k: (v[0] if isinstance(v, list) else v) for k, v in COOKIECUTTER.items() if not k.startswith("_")}
    words = MATRIX[name].get("project_name", context["project_name"]).lower().split()
    # the Jinja defaults of cookiecutter.json, for the simple names used here
    context.update(project_slug="-".join(words), package_name="_".join(words), model_name="-".join(words))
    context.update(MATRIX[name])
    return context


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


@pytest.fixture(params=sorted(MATRIX))
def rendered(request, tmp_path_factory):
    return request.param, rendered_once(request.param, tmp_path_factory)


def project_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def source_files() -> list[str]:
    names = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    return [n for n in names if n and (REPO / n).is_file()]


def expected_files(context: dict) -> dict[str, str]:
    """Rendered path -> source path: the tracked files minus the documented exclusions, renamed."""
    patterns = scaffold.EXCLUDE + (() if context["sample_data"] == "yes" else scaffold.SAMPLE_DATA)
    expected = {}
    for rel in source_files():
        if any(fnmatch.fnmatchcase(rel, p) for p in patterns):
            continue
        expected[rel.replace("src/reprostack/", f"src/{context['package_name']}/", 1)] = rel
    expected["LICENSE"] = None  # rendered by cookiecutter from the chosen license
    if context["sample_data"] == "no":
        expected["data/raw/README.md"] = None
    return expected


def run_py(project: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code] if code else [sys.executable]
    return subprocess.run([*command, *args], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(project / "src")})


# ---- the matrix -------------------------------------------------------------------------------

def test_exact_file_set(rendered):
    name, project = rendered
    context = answers(name)
    assert project.name == context["project_slug"]
    files = project_files(project)
    assert files == set(expected_files(context))
    pkg = context["package_name"]
    must_have = {f"src/{pkg}/__init__.py", f"src/{pkg}/cli/__init__.py", f"src/{pkg}/stages/snapshot.py",
                 "conf/config.yaml", "dvc.yaml", "params.yaml", "Makefile", "README.md", "LICENSE",
                 "pyproject.toml", "requirements.lock", ".dvc/config", ".dvcignore", "runs/.gitkeep",
                 "tests/conftest.py", ".ci/run"}
    assert must_have <= files
    must_not = {"dvc.lock", "template/cookiecutter.json", "tests/test_template.py", "bench/bench_template.py",
                "eval/metrics.json", "models/registry.json", "src/reprostack/__init__.py"}
    assert not must_not & files
    assert not [f for f in files if f.startswith("runs/") and f.endswith(".json")]
    assert ("data/raw/texts.csv" in files) == (context["sample_data"] == "yes")
    assert os.access(project / ".ci" / "run", os.X_OK)


def test_no_template_markers_left(rendered):
    """No `{{`/`{%` beyond what the source file itself holds (Python f-strings use `{{`)."""
    name, project = rendered
    for rel, source in expected_files(answers(name)).items():
        text = (project / rel).read_bytes().decode("utf-8", errors="replace")
        original = (REPO / source).read_bytes().decode("utf-8", errors="replace") if source else ""
        for marker in MARKERS:
            assert text.count(marker) <= original.count(marker), f"{rel}: leftover {marker}"
        assert "template-only" not in text, rel
        assert "reprostack" not in text.lower(), f"{rel} still says reprostack"


def test_package_imports_and_cli_parses(rendered):
    name, project = rendered
    pkg = answers(name)["package_name"]
    error_class = scaffold.pascal(pkg) + "Error"
    imported = run_py(project, f"import {pkg}, {pkg}.cli, {pkg}.stages.compose; from {pkg}.errors import {error_class}; "
                               f"print({pkg}.__file__)")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == str(project / "src" / pkg / "__init__.py")
    helped = run_py(project, "", "-m", pkg, "--help")
    assert helped.returncode == 0 and helped.stdout.startswith(f"usage: {pkg} "), helped.stderr


def test_answers_reach_config_pyproject_and_data(rendered):
    name, project = rendered
    context = answers(name)
    pkg = context["package_name"]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert pyproject["name"] == pkg and pyproject["scripts"] == {pkg: f"{pkg}.cli:main"}
    assert pyproject["description"] == context["description"]
    assert pyproject["authors"] == [{"name": context["author"]}]
    assert pyproject["requires-python"] == f">={context['python_version']}"
    assert pyproject.get("license") == (None if context["license"] == "Proprietary" else context["license"])
    assert f"PYTHON ?= $(shell command -v python{context['python_version']} " in (project / "Makefile").read_text()
    assert "new-project" not in (project / "Makefile").read_text()
    readme = (project / "README.md").read_text()
    assert readme.startswith(f"# {context['project_name']}\n\n{context['description']}\n")
    assert "Start your own project" not in readme and f"{pkg} --help" in readme
    assert ("650 short English texts" in readme) == (context["sample_data"] == "yes")
    if context["sample_data"] == "yes":
        assert f"columns `{context['id_column']},{context['text_column']},{context['label_column']}`" in readme
    license_text = (project / "LICENSE").read_text()
    assert context["author"] in license_text
    assert {"MIT": "MIT License", "BSD-3-Clause": "BSD 3-Clause", "Proprietary": "proprietary"}[context["license"]] in license_text
    dvc_yaml = (project / "dvc.yaml").read_text()
    assert f"python -m {pkg}.stages.snapshot" in dvc_yaml and f"src/{pkg}/config.py" in dvc_yaml
    # params.yaml, recomposed by the hook, is what Hydra composes from the edited conf/
    checked = run_py(project, "", "-m", pkg, "params", "check", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    from reprostack import config

    params = config.load_params(project / "params.yaml")
    assert (params.data.id_column, params.data.text_column, params.data.label_column) == \
        (context["id_column"], context["text_column"], context["label_column"])
    assert params.model.name == context["classifier"] and params.model_name == context["model_name"]
    assert params.embedding.model == context["embedding_model"]
    if context["sample_data"] == "yes":
        header = (project / "data" / "raw" / "texts.csv").read_text().splitlines()[0]
        assert header == ",".join((context["id_column"], context["text_column"], context["label_column"]))
    lock = (project / "requirements.lock").read_text()
    assert not any(line.startswith((f"{pkg}==", "reprostack==", "-e ")) for line in lock.splitlines())


def test_git_repository_with_one_clean_commit(rendered):
    _, project = rendered
    assert git(project, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(project, "branch", "--show-current").strip() == "main"
    assert git(project, "status", "--porcelain") == "" and git(project, "tag") == ""
    assert set(git(project, "ls-files").split()) == project_files(project)


def test_dvc_is_initialised_with_hydra(tmp_path_factory):
    project = rendered_once("defaults", tmp_path_factory)
    result = subprocess.run([str(VENV_BIN / "dvc"), "config", "hydra.enabled"], cwd=project,
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "true", result.stderr
    assert (project / ".dvc" / ".gitignore").read_text() == (REPO / ".dvc" / ".gitignore").read_text()


def test_without_sample_data_the_snapshot_stage_says_where_to_put_it(tmp_path_factory):
    project = rendered_once("no-sample-data", tmp_path_factory)
    context = answers("no-sample-data")
    assert "data/raw/texts.csv" in (project / "data" / "raw" / "README.md").read_text()
    result = run_py(project, "", "-m", f"{context['package_name']}.stages.snapshot")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "data/raw/texts.csv: no data; put a UTF-8 CSV there" in line and "columns id, text, label" in line


# ---- one source of truth ----------------------------------------------------------------------

def test_classifier_choices_are_the_conf_model_files():
    assert sorted(COOKIECUTTER["classifier"]) == sorted(p.stem for p in (REPO / "conf" / "model").glob("*.yaml"))
    assert COOKIECUTTER["classifier"][0] == scaffold.defaults(REPO)["model"]


def test_a_new_source_file_reaches_new_projects(tmp_path):
    """Files are not enumerated: a file added to the repository is rendered with the package renamed."""
    source = copy_project(tmp_path / "source")
    (source / "src" / "reprostack" / "extra.py").write_text("from reprostack.errors import ReprostackError\n")
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
    assert project_files(only_project(tmp_path / "out")) == set(expected_files(answers("defaults")))


def test_no_git_identity_commits_as_the_author_and_writes_no_config(tmp_path):
    env = {k: v for k, v in render_env(tmp_path / "home").items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER"))}
    result = render(tmp_path / "out", {"author": "Grace Hopper"}, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    project = only_project(tmp_path / "out")
    assert git(project, "log", "-1", "--format=%an").strip() == "Grace Hopper"
    assert "user.email" not in (project / ".git" / "config").read_text()


# ---- bad answers ------------------------------------------------------------------------------

@pytest.mark.parametrize("extra,message", [
    ({"package_name": "class"}, "error: package_name 'class' is a Python keyword"),
    ({"package_name": "2fast"}, "error: package_name '2fast' is not a valid lowercase Python identifier"),
    ({"package_name": "json"}, "error: package_name 'json' would shadow the module of the same name"),
    ({"label_column": "text"}, "error: id_column, text_column and label_column must differ"),
    ({"python_version": "3.9"}, "error: python_version '3.9' must look like 3.11"),
], ids=["keyword", "not-identifier", "shadows-stdlib", "same-columns", "old-python"])
def test_bad_answers_stop_with_one_line_and_leave_nothing(tmp_path, extra, message):
    result = render(tmp_path / "out", extra)
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(ours) == 1 and ours[0].startswith(message), result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_existing_directory_is_refused(tmp_path):
    (tmp_path / "out" / "text-classifier").mkdir(parents=True)
    (tmp_path / "out" / "text-classifier" / "mine.txt").write_text("keep me")
    result = render(tmp_path / "out", {})
    assert result.returncode != 0 and "text-classifier\" directory already exists" in result.stdout + result.stderr
    assert [p.name for p in (tmp_path / "out" / "text-classifier").iterdir()] == ["mine.txt"]


# ---- slow: the rendered project's own pipeline and tests ----------------------------------------

@pytest.mark.slow
def test_rendered_project_runs_make_repro_and_its_own_tests(tmp_path):
    """The README's commands inside a project with another package, other column names and the
    other classifier; its environment reuses this venv's packages (template/warm_env.py)."""
    result = render(tmp_path / "out", MATRIX["renamed"])
    assert result.returncode == 0, result.stderr
    project = only_project(tmp_path / "out")
    venv = warm_env.make_warm_venv(project, tmp_path / "venv")
    env = {**os.environ, "PYTHONPATH": ""}

    def make(*args):
        done = subprocess.run(["make", *args, f"VENV={venv}"], cwd=project, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    repro = make("repro")
    assert "Running stage 'record'" in repro.stdout and "python -m ticket_triage.stages.train" in repro.stdout
    metrics = json.loads((project / "eval" / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.8
    assert len(list((project / "runs").glob("*.json"))) == 1
    assert "Data and pipelines are up to date." in make("repro").stdout
    tests = make("test-fast")
    assert " passed" in tests.stdout and " failed" not in tests.stdout
