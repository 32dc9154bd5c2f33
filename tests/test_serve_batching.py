"""The batching server over real HTTP: concurrent answers byte-identical to answers alone, a
bounded queue (503 + Retry-After), the body size limit (413), graceful shutdown, /metrics that
follows promote and rollback, and the KServe v2 protocol through tritonclient.

Texts are embedded by the deterministic hash stand-in (factories.hash_embedder); the
real encoder's batch invariance is proven in test_encoding.py.
"""

import json
import re
import threading
import time

import numpy as np
import pytest
from factories import REPO, clone, hash_embedder, params_of
from serve_util import http, running
from tools import cli_process as cli

from reprostack.core import config
from reprostack.core.config import ServeParams
from reprostack.registry import promotion
from reprostack.serving import app as serving

NAME = params_of(REPO).model_name


@pytest.fixture(scope="module")
def project(released_once, tmp_path_factory):
    """v0.2.0 in production, v0.1.0 archived (promoted in that order)."""
    root = clone(released_once[0], tmp_path_factory.mktemp("batching") / "project")
    params = config.load_params(root / "params.yaml")
    for version in ("v0.1.0", "v0.2.0"):
        promotion.promote(root, params, NAME, version)
    return root, params


def slow_embedder(seconds: float):
    """The hash stand-in, taking `seconds` per batch: requests pile up behind it."""

    def factory(embedding=None):
        embed = hash_embedder()

        def slow(texts):
            time.sleep(seconds)
            return embed(texts)

        return slow

    return factory


def parallel(n: int, fn):
    results = [None] * n

    def one(i):
        results[i] = fn(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_answers_are_byte_identical_to_answers_alone(project):
    root, _ = project
    app = serving.create_app(
        root, NAME, embedder_factory=hash_embedder, serve=ServeParams(max_batch=64, max_wait_ms=50, queue_size=4096)
    )
    requests = [[f"client {i} text {j} " + "word " * (i % 7) for j in range(1 + i % 3)] for i in range(32)]
    with running(app) as (port, _):
        together = parallel(32, lambda i: http(port, "/predict", {"texts": requests[i]}))
        alone = [http(port, "/predict", {"texts": texts}) for texts in requests]
        scrape = http(port, "/metrics")[1].decode()
    assert [r[0] for r in together] == [200] * 32
    assert [r[1] for r in together] == [r[1] for r in alone]  # byte for byte
    assert [[p["text"] for p in json.loads(r[1])["predictions"]] for r in together] == requests
    # they were batched: some forward pass held texts of several requests
    count = float(re.search(r"^reprostack_batch_texts_count (\S+)$", scrape, re.M).group(1))
    assert count < 32 + 32, "every request ran alone: nothing was batched"


def test_a_full_queue_answers_503_with_retry_after(project):
    root, _ = project
    app = serving.create_app(
        root, NAME, embedder_factory=slow_embedder(0.4), serve=ServeParams(max_batch=2, max_wait_ms=0, queue_size=4)
    )
    with running(app) as (port, _):
        replies = parallel(12, lambda i: http(port, "/predict", {"texts": [f"a {i}", f"b {i}"]}))
        scrape = http(port, "/metrics")[1].decode()
    statuses = sorted(r[0] for r in replies)
    assert 200 in statuses and 503 in statuses and set(statuses) == {200, 503}
    refused = next(r for r in replies if r[0] == 503)
    assert refused[2]["retry-after"] == "1" and "queued" in json.loads(refused[1])["detail"]
    assert re.search(r'reprostack_requests_total\{endpoint="/predict",method="POST",status="503"\} [1-9]', scrape)


def test_a_body_over_the_limit_is_413_and_nothing_runs(project):
    root, _ = project
    app = serving.create_app(root, NAME, embedder_factory=hash_embedder, serve=ServeParams(max_body_bytes=2000))
    with running(app) as (port, _):
        status, body, _ = http(port, "/predict", {"texts": ["x" * 3000]})
        assert status == 413 and "2000 bytes" in json.loads(body)["detail"]
        assert http(port, "/predict", {"texts": ["small"]})[0] == 200
        scrape = http(port, "/metrics")[1].decode()
    assert "reprostack_batch_texts_count 1.0" in scrape  # only the small request reached the model


def test_shutdown_answers_the_requests_in_flight(project):
    root, _ = project
    app = serving.create_app(
        root, NAME, embedder_factory=slow_embedder(0.5), serve=ServeParams(max_batch=1, max_wait_ms=0, queue_size=64)
    )
    with running(app) as (port, server):
        replies = []
        threads = [
            threading.Thread(target=lambda i=i: replies.append(http(port, "/predict", {"texts": [f"t{i}"]})))
            for i in range(4)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.3)  # all four are in: one in the model, three queued
        server.should_exit = True
        for thread in threads:
            thread.join(30)
    assert sorted(r[0] for r in replies) == [200] * 4


def model_info(scrape: str) -> list[str]:
    return re.findall(r'^reprostack_model_info\{[^}]*version="(v[0-9.]+)"[^}]*\} 1\.0$', scrape, re.M)


def test_metrics_follow_a_rollback_and_a_promote(project):
    root, params = project
    app = serving.create_app(root, NAME, embedder_factory=hash_embedder)
    with running(app) as (port, _):
        assert http(port, "/predict", {"texts": ["hello"]})[0] == 200
        assert http(port, "/predict", {"texts": [" "]})[0] == 422
        first = http(port, "/metrics")[1].decode()
        result = cli(root, "registry", "rollback", NAME, "--reason", "canary failed")
        assert result.returncode == 0, result.stderr
        after_rollback = http(port, "/metrics")[1].decode()
        promotion.promote(root, params, NAME, "v0.2.0", reason="fixed")
        after_promote = http(port, "/metrics")[1].decode()
    assert model_info(first) == ["v0.2.0"] and model_info(after_rollback) == ["v0.1.0"]
    assert model_info(after_promote) == ["v0.2.0"]
    assert 'stage="production"' in after_rollback and re.search(r'sha256="[0-9a-f]{64}"', after_rollback)
    assert re.search(r'reprostack_requests_total\{endpoint="/predict",method="POST",status="200"\} 1\.0', first)
    assert re.search(r'reprostack_requests_total\{endpoint="/predict",method="POST",status="422"\} 1\.0', first)
    assert 'reprostack_request_seconds_bucket{endpoint="/predict",le="0.1",method="POST",status="200"}' in first
    assert "reprostack_queue_texts 0.0" in first


def test_kserve_v2_through_tritonclient(project):
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    root, _ = project
    texts = ["rain all week", "the match ended 2-1", "Zürich 東京"]
    app = serving.create_app(root, NAME, embedder_factory=hash_embedder)
    with running(app) as (port, _):
        ours = json.loads(http(port, "/predict", {"texts": texts})[1])["predictions"]
        client = triton.InferenceServerClient(f"127.0.0.1:{port}")
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(NAME)
        meta = client.get_model_metadata(NAME)
        assert meta["versions"] == ["v0.2.0"] and meta["inputs"][0]["datatype"] == "BYTES"
        classes = meta["parameters"]["classes"]
        for binary in (True, False):  # the binary tensor extension (tritonclient's default) and plain JSON
            tensor = triton.InferInput("text", [len(texts)], "BYTES")
            tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=object), binary_data=binary)
            result = client.infer(NAME, [tensor])
            labels = [x.decode() if isinstance(x, bytes) else x for x in result.as_numpy("label").tolist()]
            assert labels == [p["label"] for p in ours]
            scores = result.as_numpy("scores")
            assert scores.shape == (3, len(classes))
            np.testing.assert_allclose(scores, [[p["scores"][c] for c in classes] for p in ours], rtol=1e-6)
            assert result.get_response()["model_version"] == "v0.2.0"
        with pytest.raises(InferenceServerException, match="not served"):
            client.infer("other-model", [tensor])
        blank = triton.InferInput("text", [1], "BYTES")
        blank.set_data_from_numpy(np.array([b"  "], dtype=object))
        with pytest.raises(InferenceServerException, match="non-blank"):
            client.infer(NAME, [blank])
        client.close()


def test_kserve_v2_versioned_routes_and_extensions_through_tritonclient(project):
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    root, _ = project
    app = serving.create_app(root, NAME, embedder_factory=hash_embedder)
    with running(app) as (port, _):
        client = triton.InferenceServerClient(f"127.0.0.1:{port}")
        version = client.get_model_metadata(NAME)["versions"][0]
        assert client.get_model_metadata(NAME, version)["versions"] == [version]  # the listed version answers
        assert client.is_model_ready(NAME, version) and not client.is_model_ready(NAME, "v9.9.9")
        tensor = triton.InferInput("text", [2], "BYTES")
        tensor.set_data_from_numpy(np.array([b"rain all week", b"a late goal"], dtype=object))
        result = client.infer(NAME, [tensor], model_version=version)
        assert result.get_response()["model_version"] == version and result.as_numpy("label").shape == (2,)
        with pytest.raises(InferenceServerException, match="version 'v9.9.9' is not served here"):
            client.infer(NAME, [tensor], model_version="v9.9.9")
        config_ = client.get_model_config(NAME)
        assert config_["input"] == [{"name": "text", "data_type": "TYPE_STRING", "dims": [-1]}]
        assert client.get_model_config(NAME, version)["name"] == NAME
        stats = client.get_inference_statistics(NAME)["model_stats"]
        assert stats[0]["version"] == version and stats[0]["inference_count"] == 1  # the refused one is not counted
        assert stats[0]["inference_stats"]["success"]["count"] == 1
        assert client.get_inference_statistics(NAME, version)["model_stats"][0]["name"] == NAME
        assert client.get_model_repository_index() == [{"name": NAME, "version": version, "state": "READY"}]
        with pytest.raises(InferenceServerException, match="not served"):
            client.get_model_config("other-model")
        with pytest.raises(InferenceServerException, match="model control is not enabled"):
            client.unload_model(NAME)
        assert client.is_model_ready(NAME, version)  # still served
        client.close()
        one = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [3], "data": ["just one"]}]}
        status, raw, _ = http(port, f"/v2/models/{NAME}/infer", one)
        body = json.loads(raw)
        assert status == 400 and "shape [3] (3 elements) but 1 data" in body["error"], body
        assert http(port, f"/v2/models/{NAME}/versions/{version}/infer", one)[0] == 400


def test_a_reload_that_fails_keeps_serving_the_verified_model(project):
    root, _ = project
    app = serving.create_app(root, NAME, embedder_factory=hash_embedder)
    model_file = root / "models" / NAME / "v0.1.0" / "model.pkl"
    registry = root / "models" / "registry.json"
    original, good_registry = model_file.read_bytes(), registry.read_bytes()
    # what a rollback writes (v0.1.0 back in production), while v0.1.0's file has been tampered with
    data = json.loads(good_registry)
    for entry in data["models"][0]["versions"]:
        entry["stage"] = {"v0.1.0": "production", "v0.2.0": "archived"}[entry["version"]]
    with running(app) as (port, _):
        before = http(port, "/predict", {"texts": ["steady"]})[1]
        model_file.chmod(0o644)
        try:
            model_file.write_bytes(original + b"tampered")
            registry.write_text(json.dumps(data))
            health = json.loads(http(port, "/health")[1])
            after = http(port, "/predict", {"texts": ["steady"]})
            scrape = http(port, "/metrics")[1].decode()
        finally:
            model_file.write_bytes(original)
            registry.write_bytes(good_registry)
        recovered = json.loads(http(port, "/health")[1])
    assert health["status"] == "degraded" and "was changed after training" in health["error"]
    assert after[0] == 200 and after[1] == before  # still v0.2.0, byte for byte
    assert model_info(scrape) == ["v0.2.0"] and "reprostack_reload_failed 1.0" in scrape
    assert recovered == {"status": "ok", "version": "v0.2.0", "error": None}
