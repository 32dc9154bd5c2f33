"""The registry end to end with the real pipeline and embedding model: release, dvc push/pull
of the model store, promote, predict, serve over HTTP, rollback picked up live, verify."""

import json
import shutil
import subprocess
import sys
import time

import pytest
from factories import REPO, copy_sources, edit_conf, params_of
from tools import VENV_BIN, free_port, git, http, run_cli, sh

pytestmark = pytest.mark.slow
NAME = params_of(REPO).model_name


def run(root, *args):
    return sh(root, *args).stdout


def repro_and_commit(root, message):
    run(root, str(VENV_BIN / "dvc"), "repro")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def test_release_promote_predict_serve_rollback(tmp_path):
    root = copy_sources(tmp_path / "project")
    repro_and_commit(root, "first run")
    first = json.loads(run(root, sys.executable, "-m", "reprostack", "release", NAME, "--json"))
    assert first["version"] == "v0.1.0"
    run(root, sys.executable, "-m", "reprostack", "registry", "promote", NAME, "v0.1.0", "--reason", "first")
    predicted = json.loads(
        run(
            root,
            sys.executable,
            "-m",
            "reprostack",
            "predict",
            "--model",
            NAME,
            "--json",
            "The striker scored twice in the cup final",
            "Whisk the eggs and fold in the flour",
        )
    )
    assert [p["label"] for p in predicted["predictions"]] == ["sports", "cooking"]

    # the store moves with dvc push / dvc pull
    store = root / "models" / NAME / "v0.1.0"
    run(root, str(VENV_BIN / "dvc"), "remote", "add", "-d", "local", str(tmp_path / "remote"))
    run(root, str(VENV_BIN / "dvc"), "push", f"models/{NAME}/v0.1.0.dvc")
    subprocess.run(["chmod", "-R", "u+w", str(store), str(root / ".dvc" / "cache")], check=True)
    shutil.rmtree(store)
    shutil.rmtree(root / ".dvc" / "cache")
    run(root, str(VENV_BIN / "dvc"), "pull", f"models/{NAME}/v0.1.0.dvc")
    from reprostack.data.hashing import sha256_file

    assert sha256_file(store / "model.pkl") == first["sha256"]

    edit_conf(root, seed=params_of(root).seed + 1)  # a retrained model, same interface
    repro_and_commit(root, "another seed")
    assert json.loads(run(root, sys.executable, "-m", "reprostack", "release", NAME, "--json"))["version"] == "v0.2.0"
    run(root, sys.executable, "-m", "reprostack", "registry", "promote", NAME, "v0.2.0")

    port = free_port()
    server = subprocess.Popen(
        [str(VENV_BIN / "reprostack"), "serve", "--model", NAME, "--port", str(port)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
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
        assert run_cli(root, "registry", "rollback", NAME, "--reason", "canary").returncode == 0
        started = time.monotonic()
        while http(port, "/model")[1]["version"] != "v0.1.0":
            assert time.monotonic() - started < 5
            time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(10)
    assert run_cli(root, "verify").returncode == 0, run_cli(root, "verify").stdout
