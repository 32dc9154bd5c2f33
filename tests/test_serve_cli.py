"""`reprostack serve` and `reprostack predict` on bad input: one line, no traceback, nothing served."""

import json
import socket

import pytest
from factories import REPO, clone, hash_embedder, params_of
from serve_util import running
from tools import cli_process as cli
from tools import free_port, http, serving_process

from reprostack.serving import app as serving

NAME = params_of(REPO).model_name


@pytest.fixture(scope="module")
def project(production_once, tmp_path_factory):
    """v0.1.0 in production."""
    return clone(production_once, tmp_path_factory.mktemp("servecli") / "project")


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_bad_port_is_one_line_before_anything_loads(project, port):
    result = cli(project, "serve", "--model", NAME, "--port", port)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: --port {port} is not a port number")
    assert "serving" not in result.stderr and "loading" not in result.stderr


def test_a_port_in_use_is_one_line_and_the_fix_works(project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cli(project, "serve", "--model", NAME, "--port", str(port))
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "serving" not in result.stderr and "Traceback" not in result.stderr
    # the fix it names: another port. A real `reprostack serve` process there answers /health
    with serving_process(project, "serve", "--model", NAME, "--port", str(free_port())) as (port, log):
        status, body = http(port, "/health")
    assert status == 200 and body["status"] == "ok" and body["version"] == "v0.1.0", log.read_text()
    assert "cannot listen" not in log.read_text()


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_predict_refuses_blank_text(project, text):
    result = cli(project, "predict", "--model", NAME, "fine text", text)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: text 2 is empty or whitespace") and result.stdout == ""


def test_predict_url_sends_to_a_running_server(project):
    app = serving.create_app(project, NAME, embedder_factory=hash_embedder)
    with running(app) as (port, _):
        result = cli(project, "predict", "--url", f"http://127.0.0.1:{port}", "--json", "rain all week", "goal!")
        blank = cli(project, "predict", "--url", f"http://127.0.0.1:{port}", "ok", " ")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["model"]["version"] == "v0.1.0" and [p["text"] for p in body["predictions"]] == [
        "rain all week",
        "goal!",
    ]
    assert blank.returncode == 1 and blank.stderr.startswith("error: text 2 is empty")


def test_predict_url_without_a_server_says_how_to_start_one(project):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli(project, "predict", "--url", f"http://127.0.0.1:{port}", "text")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "cannot reach" in result.stderr and "reprostack serve --model" in result.stderr
