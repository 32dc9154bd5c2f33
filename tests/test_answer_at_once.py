"""Interactive commands answer at once: bad arguments are refused before any table or model is
opened, `vectors search` and `predict` ask this project's running server (it holds the encoder),
and `vectors migrate` says what it does from its start."""

import json
import os
import time

import pytest
from factories import REPO, clone, hash_embedder, params_of
from serve_util import running
from tools import cli_process as cli

from reprostack.serving import app as serving
from reprostack.serving import client

NAME = params_of(REPO).model_name


@pytest.fixture(scope="module")
def project(production_once, tmp_path_factory):
    """v0.1.0 in production, its table embedded with the stand-in encoder."""
    return clone(production_once, tmp_path_factory.mktemp("atonce") / "project")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Server announcements go to this test's own cache (the CLI processes inherit it)."""
    monkeypatch.setenv("REPROSTACK_CACHE", str(tmp_path / "cache"))


def test_bad_search_and_migrate_arguments_are_refused_before_anything_loads(project):
    search = cli(project, "vectors", "search", "rain", "-k", "0")
    assert search.returncode == 1 and search.stderr == "error: -k must be a positive number of results, got 0\n"
    for flags, message in [
        (["--batch-size", "0"], "--batch-size must be a positive number of rows"),
        (["-k", "-1"], "-k must be a positive number of neighbours"),
        (["--max-precision-drop", "2"], "--max-precision-drop must be from 0 to 1"),
    ]:
        migrate = cli(project, "vectors", "migrate", "--to", "hashing:32", *flags)
        assert migrate.returncode == 1 and migrate.stderr.startswith(f"error: {message}"), migrate.stderr
        assert migrate.stderr.count("\n") == 1  # not even the first progress line: nothing was read


def test_search_and_predict_ask_the_projects_running_server(project):
    local = cli(project, "vectors", "search", "rain tomorrow", "-k", "3", "--json", "--local")
    assert local.returncode == 0, local.stderr
    app = serving.create_app(project, NAME, embedder_factory=hash_embedder)
    with running(app) as (port, _):
        url = f"http://127.0.0.1:{port}"
        explicit = cli(project, "vectors", "search", "rain tomorrow", "-k", "3", "--json", "--url", url)
        assert client.discover(project) is None
        client.announce(project, url, NAME)  # what `reprostack serve` does once it listens
        try:
            started = time.perf_counter()
            found = cli(project, "vectors", "search", "rain tomorrow", "-k", "3")
            seconds = time.perf_counter() - started
            predicted = cli(project, "predict", "rain all week")
            bad_where = cli(project, "vectors", "search", "rain", "--where", "nope = 1")
        finally:
            client.withdraw(project)
    assert explicit.returncode == 0, explicit.stderr
    served, here = json.loads(explicit.stdout), json.loads(local.stdout)
    assert served["results"] == here["results"] and served["column"] == here["column"]
    assert served["version"] == here["version"]  # the CLI asks for the latest version, as locally
    assert found.returncode == 0 and f"answered by the server at {url}" in found.stderr
    assert "loading" not in found.stderr and here["results"][0]["id"] in found.stdout
    assert seconds < 5, seconds  # a CLI process and one request; the local path loads the encoder
    assert predicted.returncode == 0 and f"answered by the server at {url}" in predicted.stderr
    assert predicted.stdout.startswith(f"# {NAME} v0.1.0 (production)") and "loading" not in predicted.stderr
    assert bad_where.returncode == 1 and "does not parse" in bad_where.stderr  # the server's one line


def test_the_search_endpoint_reads_the_served_models_table_version_by_default(project):
    from tools import http

    app = serving.create_app(project, NAME, embedder_factory=hash_embedder)
    entry = json.loads((project / "models" / "registry.json").read_text())
    vectors = next(v for m in entry["models"] for v in m["versions"] if v["version"] == "v0.1.0")["vectors"]
    with running(app) as (port, _):
        status, body = http(port, "/search", {"text": "rain", "k": 2})
        bad_k, _ = http(port, "/search", {"text": "rain", "k": 0})
        no_column, _ = http(port, "/search", {"text": "rain", "column": "vector_nope"})
    assert status == 200 and body["version"] == vectors["version"] and len(body["results"]) == 2
    assert bad_k == 422 and no_column == 404


def test_a_dead_servers_announcement_is_passed_over(project, tmp_path):
    client.announce(project, "http://127.0.0.1:9", NAME)
    path = next((tmp_path / "cache" / "serve").glob("*.json"))
    path.write_text(json.dumps({**json.loads(path.read_text()), "pid": 2**22 + 12345}))  # no such process
    assert client.discover(project) is None and not path.exists()
    client.announce(project, "http://127.0.0.1:9", NAME)  # alive (this process), but nothing listens
    result = cli(project, "vectors", "search", "rain", "-k", "1", "--json")
    assert result.returncode == 0 and len(json.loads(result.stdout)["results"]) == 1
    client.withdraw(project)
    assert not list((tmp_path / "cache" / "serve").glob("*.json"))


def test_migrate_says_each_step_from_its_start(project, tmp_path):
    root = clone(project, tmp_path / "migrating")
    result = cli(root, "vectors", "migrate", "--to", "hashing:32", "--batch-size", "40")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "embedding:" not in line]  # tqdm's bar
    assert lines[0].startswith("starting migration of") and "rows to embed into column" in lines[0]
    assert lines[1].startswith("embedding with hashing:32")
    assert any(line.startswith("committed 40 rows of column") for line in lines)
    assert lines[-1].startswith("checking the new column")
    assert os.path.exists(root / "runs" / "migrations")


@pytest.mark.parametrize(
    "makefile", ["Makefile", "template/{{project_dir(cookiecutter.project_slug, cookiecutter)}}/Makefile"]
)
def test_the_environment_build_counts_its_steps_and_shows_pips_progress(makefile):
    """`make repro` on a fresh machine spends minutes building .venv: each step is announced as
    [i/N], and the long install (the whole lock) is not --quiet, so pip's own progress shows."""
    import re

    text = (REPO / makefile).read_text()
    recipe = text.split("$(STAMP): requirements.lock pyproject.toml\n", 1)[1].split("\n\n", 1)[0].splitlines()
    steps = [re.search(r"\[(\d+)/(\d+)\]", line) for line in recipe if line.lstrip().startswith("@echo")]
    total = int(steps[0].group(2))
    assert [(int(s.group(1)), int(s.group(2))) for s in steps] == [(i, total) for i in range(1, total + 1)]
    (install,) = [line for line in recipe if "pip install" in line and "-r requirements.lock" in line]
    assert "--quiet" not in install and "--progress-bar on" in install


def test_serve_announces_itself_while_it_runs_and_withdraws_when_stopped(project, tmp_path):
    from tools import free_port, serving_process

    with serving_process(project, "serve", "--model", NAME, "--port", str(free_port())) as (port, log):
        found = client.discover(project)
        searched = cli(project, "vectors", "search", "rain", "-k", "2")
    assert found is not None and found["url"] == f"http://127.0.0.1:{port}" and found["ref"] == NAME
    assert searched.returncode == 0 and f"answered by the server at {found['url']}" in searched.stderr
    assert not list((tmp_path / "cache" / "serve").glob("*.json")), log.read_text()  # SIGTERM: withdrawn
