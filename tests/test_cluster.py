"""embedding.engine: ray on one local Ray instance (per module): the encoder API, the full build
from fragments in one commit, incremental updates, and real kills of a worker and of the driver.

The stand-in encoder (factories.HashEncoder) runs in the actors: this module and factories are
pickled by value, since the actors cannot import the tests directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from factories import HashEncoder, hash_embed, labelled_rows

from reprostack.core.params import RayParams
from reprostack.vectors import lance_table, pointer, update

TESTS = Path(__file__).parent
BLOCK = 16


@pytest.fixture(scope="module")
def by_value():
    """The actors unpickle the stand-in encoder and this module's classes by value."""
    import factories
    import ray.cloudpickle

    modules = (factories, sys.modules[__name__])
    for module in modules:
        ray.cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        for module in modules:
            ray.cloudpickle.unregister_pickle_by_value(module)


@pytest.fixture
def ray_local(ray_running, by_value):
    """The session's local Ray instance (conftest.RaySession)."""
    return ray_running


def ray_encoder(factory=HashEncoder):
    from reprostack.cluster import encode

    return encode.RayEncoder(factory, RayParams(batch_size=BLOCK), threads=2)


def build(uri, encoder, n=90, storage_options=None, **changes):
    ids, texts, labels = labelled_rows(n)
    for i, text in changes.items():
        texts[int(i[1:])] = text
    return update.update(str(uri), "t", ids, texts, labels, "m", "f", True, encoder, "s", storage_options)


def content(uri, storage_options=None) -> str:
    data = lance_table.dataset(str(uri), "t", storage_options=storage_options)
    rows = pointer.read_column(data, lance_table.read_meta(data)["active_column"])
    return lance_table.content_sha256(rows.ids, rows.labels, rows.vectors)


def meta_without_times(uri) -> dict:
    meta = lance_table.read_meta(lance_table.dataset(str(uri), "t"))
    for info in meta["columns"].values():
        info.pop("added_utc")
    return meta


@pytest.mark.slow  # a Ray instance
def test_the_local_instance_is_one_loopback_node(ray_local):
    assert [node["ip"] for node in ray_local.nodes] == ["127.0.0.1"]
    assert ray_local.resources["CPU"] == 2.0 and ray_local.ray_version.startswith("2.")


@pytest.mark.slow  # a Ray instance
def test_ray_encoder_returns_every_vector_in_input_order_bit_identical(ray_local):
    texts = [f"text number {i} of {i % 5}" for i in range(100)]
    encoder = ray_encoder()
    vectors = encoder(texts)
    assert np.array_equal(vectors, hash_embed(texts))  # 7 blocks over the pool, same bits, same order
    assert (encoder.texts, encoder.passes, encoder.truncated) == (100, 7, 0)
    assert encoder.encode(texts[:20]).truncated == [False] * 20  # per text, in input order
    assert encoder.cluster.nodes == ray_local.nodes  # it used the instance already running


@pytest.mark.slow  # a Ray instance
def test_full_build_writes_fragments_and_commits_once_like_the_local_engine(ray_local, tmp_path):
    local = build(tmp_path / "local", HashEncoder())
    encoder = ray_encoder()
    on_ray = build(tmp_path / "ray", encoder)
    assert (on_ray.version, on_ray.column, on_ray.dimension, on_ray.embedded) == (1, "vector", local.dimension, 90)
    data, reference = lance_table.dataset(str(tmp_path / "ray"), "t"), lance_table.dataset(str(tmp_path / "local"), "t")
    assert len(data.versions()) == 1 and len(data.get_fragments()) == -(-90 // BLOCK)
    assert data.schema.remove_metadata() == reference.schema.remove_metadata()
    assert meta_without_times(tmp_path / "ray") == meta_without_times(tmp_path / "local")
    assert content(tmp_path / "ray") == content(tmp_path / "local")
    assert data.to_table(columns=["id"]).column("id").to_pylist() == labelled_rows(90)[0]  # input order kept
    assert (encoder.texts, encoder.passes) == (90, 6)


@pytest.mark.slow  # a Ray instance
def test_incremental_update_encodes_only_new_and_changed_texts_in_one_commit(ray_local, tmp_path):
    build(tmp_path / "local", HashEncoder())
    build(tmp_path / "ray", ray_encoder())
    before = lance_table.dataset(str(tmp_path / "ray"), "t").version
    encoder = ray_encoder()
    changed = dict(n=93, r0003="a changed text", r0050="another one")
    result = build(tmp_path / "ray", encoder, **changed)
    assert result.new_version and result.version == before + 1 and result.embedded == 5
    assert (encoder.texts, encoder.passes) == (5, 1)  # 3 new rows, 2 changed: one block
    build(tmp_path / "local", HashEncoder(), **changed)
    assert content(tmp_path / "ray") == content(tmp_path / "local")


@pytest.mark.slow  # a Ray instance (and the session's SeaweedFS)
def test_workers_write_the_fragments_straight_to_an_object_store(ray_local, seaweed_s3, tmp_path):
    s3 = seaweed_s3
    on_ray = build("s3://vectors/ray", ray_encoder(), storage_options=s3)
    data = lance_table.dataset("s3://vectors/ray", "t", storage_options=s3)
    assert on_ray.version == 1 and len(data.versions()) == 1 and len(data.get_fragments()) == -(-90 // BLOCK)
    build(tmp_path / "local", HashEncoder())
    assert content("s3://vectors/ray", s3) == content(tmp_path / "local")


class KillOnce:
    """An encoder factory whose first block, anywhere in the pool, SIGKILLs its actor process."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __call__(self):
        marker = self.marker

        class Killing(HashEncoder):
            def encode(self, texts):  # what __call__ calls too
                try:
                    with open(marker, "x") as f:
                        f.write(str(os.getpid()))
                except FileExistsError:
                    return super().encode(texts)
                os.kill(os.getpid(), signal.SIGKILL)

        return Killing()


@pytest.mark.slow  # a Ray instance
def test_a_worker_killed_mid_embed_is_retried_and_the_build_is_still_one_bit_identical_commit(ray_local, tmp_path):
    marker = tmp_path / "killed"
    on_ray = build(tmp_path / "ray", ray_encoder(KillOnce(str(marker))))
    killed = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(killed, 0)  # that actor process is really gone
    build(tmp_path / "local", HashEncoder())
    assert on_ray.version == 1 and len(lance_table.dataset(str(tmp_path / "ray"), "t").versions()) == 1
    assert content(tmp_path / "ray") == content(tmp_path / "local")
    # the same for vectors coming back to the driver (an incremental run, a migration)
    texts = labelled_rows(40)[1]
    assert np.array_equal(ray_encoder(KillOnce(str(tmp_path / "killed-again")))(texts), hash_embed(texts))
    assert (tmp_path / "killed-again").exists()


# ---- the driver killed: a child process with its own local instance ---------------------------

CHILD = """
import sys
sys.path.insert(0, {tests!r})
import factories, ray.cloudpickle
ray.cloudpickle.register_pickle_by_value(factories)
from reprostack.cluster import encode
from reprostack.core.params import RayParams
from reprostack.vectors import update
ids, texts, labels = factories.labelled_rows({n})
texts[3] = {changed!r}
with encode.RayEncoder(factories.HashEncoder, RayParams(batch_size={block}), threads=2) as encoder:
    update.update({uri!r}, "t", ids, texts, labels, "m", "f", True, encoder, "s")
"""


def run_child(uri, kill_at: str, n=90, changed="r3 text") -> int:
    script = CHILD.format(tests=str(TESTS), n=n, changed=changed, block=BLOCK, uri=str(uri))
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        start_new_session=True,
        env={**os.environ, "REPROSTACK_KILL_AT": kill_at},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return child.wait(timeout=120)
    finally:  # the child's local Ray instance shares its process group: stop it too
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow  # a Ray instance
def test_driver_killed_before_the_commit_of_a_full_build_leaves_no_table(ray_local, tmp_path):
    uri = tmp_path / "db"
    assert run_child(uri, "embed.ray-fragments") == -signal.SIGKILL
    assert list((uri / "t.lance" / "data").glob("*.lance"))  # the fragments were written ...
    assert not lance_table.exists(str(uri), "t")  # ... and no version refers to them
    encoder = ray_encoder()
    result = build(uri, encoder, r0003="r3 text")
    assert result.version == 1 and encoder.texts == 90


@pytest.mark.slow  # a Ray instance
def test_driver_killed_mid_update_leaves_the_version_and_a_rerun_embeds_only_what_is_missing(ray_local, tmp_path):
    uri = tmp_path / "db"
    first = build(uri, HashEncoder())
    assert run_child(uri, "embed.ray-encoded", n=92) == -signal.SIGKILL
    assert lance_table.dataset(str(uri), "t").version == first.version
    encoder = ray_encoder()
    result = build(uri, encoder, n=92, r0003="r3 text")
    assert result.version == first.version + 1 and encoder.texts == 3  # 2 new rows, 1 changed


@pytest.mark.slow  # a Ray instance
def test_a_full_build_never_overwrites_a_table_another_run_created_meanwhile(ray_local, tmp_path):
    from reprostack.cluster import build as full_build
    from reprostack.core.errors import VectorStoreError

    encoder = ray_encoder()

    def created_meanwhile(*args):  # the other run commits between our plan and our commit
        build(tmp_path / "db", HashEncoder(), n=10)
        return full_build.write_table(encoder, *args)

    encoder.write_table = created_meanwhile
    with pytest.raises(VectorStoreError, match="created by another run"):
        build(tmp_path / "db", encoder)
    assert lance_table.dataset(str(tmp_path / "db"), "t").count_rows() == 10  # the other run's table, untouched
