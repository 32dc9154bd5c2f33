"""The cookiecutter template, for real: each entry of a matrix of answers is rendered with
cookiecutter into a temp dir (tests/templating.py) and checked for what it holds and that it imports and runs."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from factories import REPO
from templating import (
    COOKIECUTTER, MARKERS, MATRIX, SAMPLE_WORD, answers, conf_names, expected_files, project_files,
    rendered_once, run_py, scaffold,
)
from tools import VENV_BIN, git


@pytest.fixture(params=sorted(MATRIX))
def rendered(request, tmp_path_factory):
    return request.param, rendered_once(request.param, tmp_path_factory)



# ---- the matrix -------------------------------------------------------------------------------

def test_exact_file_set(rendered):
    name, project = rendered
    context = answers(name)
    assert project.name == context["project_slug"]
    files = project_files(project)
    assert files == set(expected_files(context))
    pkg = context["package_name"]
    must_have = {f"src/{pkg}/__init__.py", f"src/{pkg}/cli/__init__.py", f"src/{pkg}/stages/snapshot.py",
                 "conf/config.yaml", "dvc.yaml", "params.yaml", "Makefile", "README.md", ".cruft.json",
                 "pyproject.toml", "requirements.lock", ".dvc/config", ".dvcignore", "runs/.gitkeep",
                 "tests/conftest.py", ".ci/run"}
    assert must_have <= files
    must_not = {"dvc.lock", "template/cookiecutter.json", "tests/test_template.py", "bench/bench_template.py",
                "tests/templating.py", "tests/test_template_answers.py", "template/scaffold_files.py",
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
        if rel != ".cruft.json":  # it names the template it follows (its URL, extension)
            assert "reprostack" not in text.lower(), f"{rel} still says reprostack"


def test_package_imports_and_cli_parses(rendered):
    name, project = rendered
    pkg = answers(name)["package_name"]
    error_class = scaffold.edits.pascal(pkg) + "Error"
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
    assert pyproject.get("license") == (None if context["license"] in ("Proprietary", "none") else context["license"])
    assert f"PYTHON ?= $(shell command -v python{context['python_version']} " in (project / "Makefile").read_text()
    assert "new-project" not in (project / "Makefile").read_text()
    readme = (project / "README.md").read_text()
    assert readme.startswith(f"# {context['project_name']}\n\n{context['description']}\n")
    assert "Start your own project" not in readme and f"{pkg} --help" in readme
    assert ("650 short English texts" in readme) == (context["sample_data"] == "yes")
    if context["sample_data"] == "yes":
        assert f"columns `{context['id_column']},{context['text_column']},{context['label_column']}`" in readme
    check_license(project, context, readme)
    dvc_yaml = (project / "dvc.yaml").read_text()
    assert f"python -m {pkg}.stages.snapshot" in dvc_yaml and f"src/{pkg}/config.py" in dvc_yaml
    # params.yaml, recomposed by the hook, is what Hydra composes from the edited conf/
    checked = run_py(project, "", "-m", pkg, "params", "check", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    from reprostack.core import config

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


def check_license(project: Path, context: dict, readme: str) -> None:
    if context["license"] == "none":
        assert not (project / "LICENSE").exists()
        assert "No license chosen yet" in readme and "Code: " not in readme
        return
    license_text = (project / "LICENSE").read_text()
    assert f"Code: {context['license']} (see `LICENSE`)" in readme
    if context["license"] == "Apache-2.0":  # the official text, byte for byte, from the one copy shipped
        assert license_text == (REPO / "template" / "templates" / "Apache-2.0.txt").read_text()
        assert "Apache License\n                           Version 2.0, January 2004" in license_text
        return
    assert context["author"] in license_text
    assert {"MIT": "MIT License", "BSD-3-Clause": "BSD 3-Clause", "Proprietary": "proprietary"}[context["license"]] in license_text


def test_names_follow_the_answers(rendered):
    """The dataset config and its snapshot directory after the dataset, the embedding config after
    the model; no sample wording without the sample."""
    name, project = rendered
    context = answers(name)
    data, embedding = conf_names(context)
    assert sorted(p.name for p in (project / "conf" / "data").iterdir()) == [f"{data}.yaml"]
    assert sorted(p.name for p in (project / "conf" / "embedding").iterdir()) == [f"{embedding}.yaml"]
    assert scaffold.edits.defaults(project)["data"] == data and scaffold.edits.defaults(project)["embedding"] == embedding
    data_conf = (project / "conf" / "data" / f"{data}.yaml").read_text()
    assert scaffold.edits.yaml_file(project / "params.yaml")["data"]["name"] == data
    embedding_conf = (project / "conf" / "embedding" / f"{embedding}.yaml").read_text()
    if context["embedding_model"] != COOKIECUTTER["embedding_model"]:
        # the shipped file's header describes its own model: not this one
        shipped = (REPO / "conf" / "embedding" / f"{scaffold.edits.defaults(REPO)['embedding']}.yaml").read_text()
        assert shipped.splitlines()[0] not in embedding_conf
    readme = (project / "README.md").read_text()
    if context["sample_data"] == "no":
        assert not SAMPLE_WORD.search(readme) and not SAMPLE_WORD.search(data_conf)
        assert "sample" not in (project / "conf" / "config.yaml").read_text()


def test_nothing_personal_or_historical_crosses(rendered):
    """No registry, history log, run records, released models, locks, metrics or snapshots of this
    repository, and none of its git authors' or committers' names and e-mails."""
    name, project = rendered
    files = project_files(project)
    history = [f for f in files if f.startswith(("runs/", "models/", "eval/", "data/snapshots/"))
               or f.endswith(".jsonl") or f in ("dvc.lock", "data/snapshot.json", "data/vectors.json")]
    assert sorted(history) == ["models/.gitignore", "runs/.gitkeep"]
    identities = {line.strip() for line in git(REPO, "log", "--format=%an%n%ae%n%cn%n%ce").splitlines()}
    identities -= {"", "Test", "test@example.invalid"}  # this test suite's own identity
    assert identities
    # the package name is renamed in every file, so an identity holding it is looked for renamed too
    identities |= {scaffold.edits.rename(i, answers(name)["package_name"]) for i in identities}
    for rel in files:
        text = (project / rel).read_bytes().decode("utf-8", errors="replace").lower()
        found = [i for i in identities if i.lower() in text]
        assert not found, f"{rel} holds {found}"


def test_ci_workflow_runs_the_projects_tests_and_cruft_check(rendered):
    """The rendered workflow, read as GitHub would: on push and pull request the project's own
    `make test` (the Makefile's every-test target) after installing from the lock; `cruft check`
    weekly too; both on the chosen Python."""
    import yaml

    name, project = rendered
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"push", "pull_request", "schedule"}
    jobs = workflow["jobs"]
    assert set(jobs) == {"test", "cruft-check"}

    def runs(job):
        return [step["run"] for step in jobs[job]["steps"] if "run" in step]

    def python(job):
        (version,) = [s["with"]["python-version"] for s in jobs[job]["steps"] if s.get("uses", "").startswith("actions/setup-python")]
        return version

    assert runs("test")[-1] == "make test" and runs("test")[0].endswith("make env")
    assert "schedule" in jobs["test"]["if"]  # the weekly run checks the template only
    assert re.search(r"^test: .*\n\t\$\(BIN\)/python -m pytest\n", (project / "Makefile").read_text(), re.M)
    assert runs("cruft-check") == ["python -m pip install --quiet -c requirements.lock cruft", "cruft check"]
    assert "if" not in jobs["cruft-check"]
    assert python("test") == python("cruft-check") == answers(name)["python_version"]


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
