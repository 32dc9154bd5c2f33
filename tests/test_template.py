"""The cookiecutter template, for real: render projects with cookiecutter into temp dirs and check
what they hold, that they import and run, and that bad answers stop with one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from factories import REPO, copy_project, write_csv
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
    shipped = scaffold.edits.defaults(REPO)
    data, embedding = conf_names(context)
    renamed = {f"conf/data/{shipped['data']}.yaml": f"conf/data/{data}.yaml",
               f"conf/embedding/{shipped['embedding']}.yaml": f"conf/embedding/{embedding}.yaml"}
    expected = {}
    for rel in source_files():
        if not scaffold.excluded(rel, context["sample_data"] == "yes"):
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


# ---- one source of truth ----------------------------------------------------------------------

def test_classifier_choices_are_the_conf_model_files():
    assert sorted(COOKIECUTTER["classifier"]) == sorted(p.stem for p in (REPO / "conf" / "model").glob("*.yaml"))
    assert COOKIECUTTER["classifier"][0] == scaffold.edits.defaults(REPO)["model"]


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
    (source / "src" / "reprostack" / "extra.py").write_text("from reprostack.errors import ReprostackError\n")
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


# ---- bad answers ------------------------------------------------------------------------------

@pytest.mark.parametrize("extra,message", [
    ({"package_name": "class"}, "error: package_name 'class' is a Python keyword"),
    ({"package_name": "2fast"}, "error: package_name '2fast' is not a valid lowercase Python identifier"),
    ({"package_name": "json"}, "error: package_name 'json' would shadow the module of the same name"),
    ({"label_column": "text"}, "error: id_column, text_column and label_column must differ"),
    ({"python_version": "3.9"}, "error: python_version '3.9' must look like 3.11"),
    ({"dataset_name": "my.data"}, "error: dataset_name 'my.data' must be 1-64 letters"),
], ids=["keyword", "not-identifier", "shadows-stdlib", "same-columns", "old-python", "dataset-name"])
def test_bad_answers_stop_with_one_line_and_leave_nothing(tmp_path, extra, message):
    """Exactly one line in all of cookiecutter's output, no traceback, nothing on disk."""
    result = render(tmp_path / "out", extra)
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip().splitlines()
    assert len(output) == 1 and output[0].startswith(message), result.stdout + result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def tree(root: Path) -> dict[str, bytes | None]:
    """Every entry under root with a file's bytes (None for a directory)."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


@pytest.mark.parametrize("slug,out_exists", [("..", True), ("..", False), ("a/b", True), (".", True),
                                             ("", True), ("a\\b", True), ("-rf", True), ("my project", True)],
                         ids=["parent", "parent-of-a-new-output-dir", "subdir", "dot", "empty", "backslash",
                              "option", "space"])
def test_a_project_slug_that_is_not_a_plain_name_is_refused_before_anything_is_written(tmp_path, slug, out_exists):
    """project_slug is a directory in --output-dir: `..` made cookiecutter render into the output
    dir's parent and, on a hook failure, delete it. Now one line naming project_slug, exit 1, and
    the output dir and its parent exactly as before."""
    parent = tmp_path / "parent"
    (parent / "out").mkdir(parents=True)
    (parent / "sentinel.txt").write_text("the user's file next to the output dir")
    if out_exists:
        (parent / "out" / "sentinel.txt").write_text("the user's file in the output dir")
    else:
        (parent / "out").rmdir()
    before = tree(parent)
    env = render_env(tmp_path / "home")
    cmd = [str(VENV_BIN / "cookiecutter"), str(REPO), "--directory", "template", "--no-input",
           "--output-dir", str(parent / "out"), f"project_slug={slug}", "model_name=m"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip().splitlines()
    assert len(output) == 1 and output[0].startswith(f"error: project_slug {slug!r} is not a plain directory name"), \
        result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert tree(parent) == before


def test_cruft_create_refuses_a_bad_project_slug_with_one_line(tmp_path):
    """cruft's command line too: its own would be a long traceback."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "sentinel.txt").write_text("keep")
    before = tree(tmp_path)
    result = subprocess.run([str(VENV_BIN / "cruft"), "create", str(REPO), "--directory", "template", "--no-input",
                             "--output-dir", str(out), "--extra-context", '{"project_slug": ".."}'],
                            capture_output=True, text=True, env=render_env(tmp_path / "home"))
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip().splitlines()
    assert len(output) == 1 and output[0].startswith("error: project_slug '..' is not a plain directory name"), \
        result.stdout + result.stderr
    assert {k: v for k, v in tree(tmp_path).items() if not k.startswith("home")} == before


def test_the_fix_the_slug_error_names_renders(tmp_path):
    """The message's example answer works."""
    result = render(tmp_path / "out", {"project_slug": "my-project"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert only_project(tmp_path / "out").name == "my-project"


def test_a_failing_post_hook_prints_one_line_and_leaves_nothing(tmp_path):
    """A failure inside the post-generation hook (here: a source without .dvc/config): our one
    line, not cookiecutter's traceback, exit 1, and the half-made project removed."""
    source = copy_project(tmp_path / "source")
    (source / ".dvc" / "config").unlink()
    result = render(tmp_path / "out", {}, template=str(source))
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip().splitlines()
    assert output == ["error: .dvc/config is missing from the source repository; DVC would not be initialised"], \
        result.stdout + result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_an_answer_outside_a_choice_list_is_refused_by_cookiecutter(tmp_path):
    """Cookiecutter checks choice answers itself, before our hooks run (README: "Bad answers")."""
    result = render(tmp_path / "out", {"license": "GPL"})
    assert result.returncode != 0
    assert "GPL provided for choice variable license, but the choices are" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_existing_directory_is_refused(tmp_path):
    (tmp_path / "out" / "text-classifier").mkdir(parents=True)
    (tmp_path / "out" / "text-classifier" / "mine.txt").write_text("keep me")
    result = render(tmp_path / "out", {})
    assert result.returncode != 0 and "text-classifier\" directory already exists" in result.stdout + result.stderr
    assert [p.name for p in (tmp_path / "out" / "text-classifier").iterdir()] == ["mine.txt"]


# ---- slow: the rendered project's own pipeline and tests ----------------------------------------

# Not one default: another classifier, dataset and column names (in another order), model name,
# embedding model spelling and license; no sample data, so the user drops a CSV in.
OWN_DATA = {"project_name": "Support Desk", "package_name": "desk", "model_name": "router",
            "sample_data": "no", "dataset_name": "tickets", "id_column": "ticket_id", "text_column": "body",
            "label_column": "queue", "classifier": "random_forest", "embedding_model": "all-MiniLM-L6-v2",
            "license": "none", "python_version": "3.11"}


@pytest.mark.slow
def test_a_project_with_other_answers_and_own_data_passes_its_own_make_test_before_and_after_repro(tmp_path):
    """The README's commands in a project rendered with non-default answers, plus a user's CSV
    and their own option for the classifier the project uses: its full `make test` (slow
    included) straight away, `make repro` (which trains with that option), and its full `make
    test` again. Its environment reuses this venv's packages (template/warm_env.py)."""
    import csv
    import pickle

    from reprostack import config

    result = render(tmp_path / "out", OWN_DATA)
    assert result.returncode == 0, result.stdout + result.stderr
    project = only_project(tmp_path / "out")
    venv = warm_env.make_warm_venv(project, tmp_path / "venv")
    env = {**os.environ, "PYTHONPATH": ""}

    def run(*command):
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, env=env)
        assert done.returncode == 0, f"{command}:\n" + done.stdout[-6000:] + done.stderr[-3000:]
        return done

    def make_test():
        tests = run("make", "test", f"VENV={venv}")
        assert " passed" in tests.stdout and "deselected" not in tests.stdout  # slow ones included
        assert "no data in data/raw" not in tests.stdout  # the pipeline tests ran, not skipped
        return tests

    # the user's data: the sample texts under their own column names
    shipped = config.load_params(REPO / "params.yaml").data
    with (REPO / shipped.raw_dir / shipped.file).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with (project / "data" / "raw" / "texts.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["ticket_id", "body", "queue"])
        for row in rows:
            writer.writerow([f"T-{row[shipped.id_column]}", row[shipped.text_column], row[shipped.label_column]])
    # an option of the classifier this project trains (OWN_DATA's), not the shipped default's
    forest = project / "conf" / "model" / f"{OWN_DATA['classifier']}.yaml"
    forest.write_text(re.sub(r"^n_estimators: .*$", "n_estimators: 37", forest.read_text(), count=1, flags=re.M))
    run(str(venv / "bin" / "desk"), "params", "compose")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "our data, our forest")

    make_test()
    repro = run("make", "repro", f"VENV={venv}")
    assert "Running stage 'record'" in repro.stdout and "python -m desk.stages.train" in repro.stdout
    (snapshot,) = (project / "data" / "snapshots" / "tickets").iterdir()
    assert [f["path"] for f in json.loads((snapshot / "manifest.json").read_text())["files"]] == ["texts.csv"]
    assert json.loads((project / "eval" / "metrics.json").read_text())["accuracy"] > 0.8
    card = json.loads((project / "models" / "candidate" / "model.json").read_text())
    assert card["classifier"] == "random_forest" and card["options"]["n_estimators"] == 37
    model = pickle.loads((project / "models" / "candidate" / card["file"]).read_bytes())  # made by this test
    assert len(model.estimators_) == 37  # the option reached the classifier trained, not only the card
    assert len(list((project / "runs").glob("*.json"))) == 1
    again = run("make", "repro", f"VENV={venv}").stdout  # only compose, which always runs, re-runs
    assert re.findall(r"Running stage '(\w+)'", again) == ["compose"] and "didn't change, skipping" in again
    git(project, "add", "-A")
    git(project, "commit", "-qm", "first run")
    # the full suite again, now beside the dvc.lock, run record and model the repro made
    make_test()
