"""`reprostack serve` over real HTTP on loopback: it follows promotes and rollbacks live.

The service runs in uvicorn in a thread. Texts are embedded by a small deterministic hash
embedder instead of sentence-transformers (10 s to load); the slow test serves the real one.
"""

import pickle
import threading
import time

import pytest
from factories import MISSING_MODEL, REPO, clone, hash_embedder, params_of
from tools import free_port, http, run_cli

from reprostack.core.errors import IntegrityError, ServeError
from reprostack.registry import catalog, loader, promotion
from reprostack.serving import app as serving

NAME = params_of(REPO).model_name


@pytest.fixture(scope="module")
def served(released_once, tmp_path_factory):
    """One server for this module, on a copy of the released project with v0.2.0 in production
    (after v0.1.0). A test that changes the registry puts it back before it ends."""
    import uvicorn

    root = clone(released_once[0], tmp_path_factory.mktemp("serve") / "project")
    params = params_of(root)
    for version in ("v0.1.0", "v0.2.0"):
        promotion.promote(root, params, NAME, version)
    app = serving.create_app(root, NAME, embedder_factory=hash_embedder)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield root, params, port, app
    server.should_exit = True
    thread.join(10)


def test_endpoints(served):
    root, params, port, _ = served
    assert http(port, "/health") == (200, {"status": "ok", "version": "v0.2.0", "error": None})
    status, model = http(port, "/model")
    entry = catalog.require_version(catalog.read(root), NAME, "v0.2.0")
    assert status == 200 and (model["name"], model["version"], model["stage"]) == (
        NAME,
        "v0.2.0",
        params.registry.production,
    )
    assert model["sha256"] == entry["model"]["sha256"]
    status, body = http(port, "/predict", {"texts": ["rain all week", "the match ended 2-1"]})
    assert status == 200 and body["model"]["version"] == "v0.2.0" and len(body["predictions"]) == 2
    first = body["predictions"][0]
    assert first["label"] in first["scores"] and abs(sum(first["scores"].values()) - 1) < 1e-4
    assert http(port, "/predict", {"texts": []})[0] == 422
    assert http(port, "/predict", {"texts": ["   "]})[0] == 422
    assert http(port, "/predict", {"wrong": 1})[0] == 422


def test_concurrent_requests_each_get_their_own_predictions(served):
    _, _, port, _ = served
    results = {}

    def client(k):
        results[k] = [http(port, "/predict", {"texts": [f"text {k} {i}", f"other {k} {i}"]}) for i in range(5)]

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k, replies in results.items():
        for i, (status, body) in enumerate(replies):
            assert status == 200 and [p["text"] for p in body["predictions"]] == [f"text {k} {i}", f"other {k} {i}"]


def test_rollback_and_promote_are_picked_up_without_restart(served):
    root, params, port, _ = served
    result = run_cli(root, "registry", "rollback", NAME, "--reason", "bad canary")
    assert result.returncode == 0, result.stderr
    started = time.monotonic()
    while http(port, "/model")[1]["version"] != "v0.1.0":
        assert time.monotonic() - started < 5, "the server did not pick up the rollback"
        time.sleep(0.05)
    assert http(port, "/predict", {"texts": ["hello"]})[1]["model"]["version"] == "v0.1.0"
    promotion.promote(root, params, NAME, "v0.2.0", reason="fixed")
    assert http(port, "/model")[1]["version"] == "v0.2.0"  # the next request already sees it


def test_a_broken_registry_keeps_the_verified_model_serving(served):
    root, _, port, app = served
    path = root / catalog.REGISTRY_FILE
    good = path.read_bytes()
    try:
        path.write_text("{broken")
        status, health = http(port, "/health")
        assert status == 200 and health["status"] == "degraded" and "not valid JSON" in health["error"]
        assert http(port, "/model")[1]["version"] == "v0.2.0"
        assert http(port, "/predict", {"texts": ["still up"]})[0] == 200
    finally:
        path.write_bytes(good)
    assert http(port, "/health")[1]["status"] == "ok"


def test_load_model_never_unpickles_an_unverified_file(served, tmp_path):
    root, _, _, _ = served
    assert loader.load_model(NAME, root=root).version == "v0.2.0"
    model = loader.load_model(NAME, version="v0.1.0", root=root)
    assert model.stage == params_of(root).registry.replaced_to and len(model.predict(["x"], hash_embedder())) == 1
    path = root / "models" / NAME / "v0.1.0" / "model.pkl"
    original = path.read_bytes()
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path.chmod(0o644)
    try:
        path.write_bytes(pickle.dumps(Exploit()))
        with pytest.raises(IntegrityError, match="was changed after training"):
            loader.load_model(NAME, version="v0.1.0", root=root)
        assert not marker.exists()
        with pytest.raises(ServeError, match=f"cannot serve {NAME}@v0.1.0"):
            serving.create_app(root, f"{NAME}@v0.1.0", embedder_factory=hash_embedder)
    finally:
        path.write_bytes(original)


def test_predict_cli_answers_with_the_configured_stand_in_and_names_a_missing_embedding_model(served, tmp_path):
    root, _, _, _ = served
    result = run_cli(root, "predict", "--model", f"{NAME}@production", "--json", "rain all week")
    assert result.returncode == 0, result.stderr
    assert result.json()["model"]["version"] == "v0.2.0" and len(result.json()["predictions"]) == 1
    # a registry entry made where another model was installed (written by the registry's own writer)
    other = clone(root, tmp_path / "other")
    data = catalog.read(other)
    catalog.require_version(data, NAME, "v0.2.0")["embedding"]["model"] = MISSING_MODEL
    catalog.write(other, data)
    result = run_cli(other, "predict", "--model", f"{NAME}@production", "some text")
    loading, error = result.stderr.splitlines()  # what it loads, then one error line
    assert result.returncode == 1 and loading.startswith(f"loading {NAME} ") and error.startswith("error: ")
    assert f"embedding model '{MISSING_MODEL}' not found" in error
