"""The same vector code on an s3:// URI, against a real S3 API (moto's server on loopback)."""

import numpy as np
import pytest
from factories import pointer_to
from tools import free_port

from reprostack import vectors
from reprostack.vectors import lance_table, search, update, versions


@pytest.fixture(scope="module")
def s3():
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    ).create_bucket(Bucket="vectors")
    yield {
        "aws_endpoint": endpoint,
        "allow_http": "true",
        "aws_region": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    server.stop()


def test_update_pin_restore_and_search_on_s3(s3):
    uri, vecs = "s3://vectors/db", np.eye(3, 8, dtype=np.float32) + 0.1
    encode = lambda texts: vecs[[["x", "y", "z", "y2"].index(t) % 3 for t in texts]]  # noqa: E731
    first = update.update(uri, "t", ["a", "b", "c"], ["x", "y", "z"], ["l", "l", "m"], "m", "f", True, encode, "s", s3)
    second = update.update(
        uri, "t", ["a", "b", "c"], ["x", "y2", "z"], ["l", "l", "m"], "m", "f", True, encode, "s", s3
    )
    assert (first.version, second.version, second.embedded) == (1, 2, 1)
    pinned = pointer_to(uri, "t", 1, s3)
    assert vectors.read_rows(pinned, s3).ids == ["a", "b", "c"]
    assert versions.restore(uri, "t", 1, "IVF_PQ", 10**6, s3) == {"restored": 1, "version": 3, "index_rebuilt": False}
    assert versions.diff(uri, "t", 1, 3, s3)["changed"] == []
    table = lance_table.open_table(lance_table.connect(uri, s3), "t")
    assert search.search(table, "vector", vecs[2], k=1).rows[0]["id"] == "c"
