"""The registry end to end with the real pipeline and embedding model: release, dvc push/pull
of the model store, promote, predict, serve over HTTP, rollback picked up live, verify."""

import json
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml
from conftest import VENV_BIN, copy_project, git
from registry_project import cli
from test_serving import free_port, http

pytestmark = pytest.mark.slow


def run(root, *args):
    result = subprocess.run(args, cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def repro_and_commit(root, message):
    run(root, str(VENV_BIN / "dvc"), "repro")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def test_release_promote_predict_serve_rollback(tmp_path):
    root = copy_project(tmp_path / "project")
    repro_and_commit(root, "first run")
    first = json.loads(run(root, sys.executable, "-m", "reprostack", "release", "textclf", "--json"))
    assert first["version"] == "v0.1.0"
    run(root, sys.executable, "-m", "reprostack", "registry", "promote", "textclf", "v0.1.0", "--reason", "first")
    predicted = json.loads(run(root, sys.executable, "-m", "reprostack", "predict", "--model", "textclf", "--json",
                               "The striker scored twice in the cup final", "Whisk the eggs and fold in the flour"))
    assert [p["label"] for p in predicted["predictions"]] == ["sports", "cooking"]

    # the store moves with dvc push / dvc pull
    store = root / "models" / "textclf" / "v0.1.0"
    run(root, str(VENV_BIN / "dvc"), "remote", "add", "-d", "local", str(tmp_path / "remote"))
    run(root, str(VENV_BIN / "dvc"), "push", "models/textclf/v0.1.0.dvc")
    subprocess.run(["chmod", "-R", "u+w", str(store), str(root / ".dvc" / "cache")], check=True)
    shutil.rmtree(store)
    shutil.rmtree(root / ".dvc" / "cache")
    run(root, str(VENV_BIN / "dvc"), "pull", "models/textclf/v0.1.0.dvc")
    from reprostack.data.hashing import sha256_file

    assert sha256_file(store / "model.pkl") == first["sha256"]

    # another model: scale the first numeric option of the configured classifier (logreg: C 1.0 -> 0.3)
    conf = root / "conf" / "model" / f"{yaml.safe_load((root / 'params.yaml').read_text())['model']['name']}.yaml"
    options = yaml.safe_load(conf.read_text())
    key = next(k for k, v in options.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    conf.write_text(re.sub(rf"^{key}: .*$", f"{key}: {type(options[key])(options[key] * 0.3)}", conf.read_text(),
                           count=1, flags=re.M))
    repro_and_commit(root, f"{key} x 0.3")
    assert json.loads(run(root, sys.executable, "-m", "reprostack", "release", "textclf", "--json"))["version"] == "v0.2.0"
    run(root, sys.executable, "-m", "reprostack", "registry", "promote", "textclf", "v0.2.0")

    port = free_port()
    server = subprocess.Popen([str(VENV_BIN / "reprostack"), "serve", "--model", "textclf", "--port", str(port)],
                              cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, model = http(port, "/model")
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.5)
        assert model["version"] == "v0.2.0" and model["stage"] == "production"
        status, body = http(port, "/predict", {"texts": ["Heavy rain and strong winds expected tonight"]})
        assert status == 200 and body["predictions"][0]["label"] == "weather"
        assert cli(root, "registry", "rollback", "textclf", "--reason", "canary").returncode == 0
        started = time.monotonic()
        while http(port, "/model")[1]["version"] != "v0.1.0":
            assert time.monotonic() - started < 5
            time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(10)
    assert cli(root, "verify").returncode == 0, cli(root, "verify").stdout
