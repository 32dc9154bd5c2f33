"""`vectors migrate` on Ray (issue 15): the new column backfilled on a local Ray instance, one Merge
commit, byte-equal to a local migration, resumable after the driver is killed. Real Ray, real
Lance tables with several fragments and deleted rows; a stand-in encoder (the real model in the
CLI test). Tests that start Ray are marked slow; the config check needs no Ray and is fast
(test_cluster_checks.py)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from reprostack.cluster import backfill as cluster
from reprostack.core.errors import VectorStoreError
from reprostack.core.params import RayParams
from reprostack.vectors import lance_table, migrate, update

SLOW = pytest.mark.slow  # a test that starts a Ray instance (~5 s, and more under load)

TESTS = Path(__file__).resolve().parent
RAY = RayParams()  # address null: a local instance, 1 actor of 1 CPU


class Geometric:
    """Vectors near the label's centre (label = c<i % 8> for 'text <i> ...'), from the text's
    sha256: batch-invariant, and `dim` differs per 'model'. Picklable, so Ray actors get a copy."""

    def __init__(self, dim: int, seed: int) -> None:
        self.dim, self.seed, self.passes = dim, seed, 0

    def __call__(self, texts):
        self.passes += 1
        centres = np.random.default_rng(self.seed).normal(size=(8, self.dim))
        out = []
        for text in texts:
            noise = np.random.default_rng(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little"))
            out.append(centres[int(text.split()[1]) % 8] + 0.1 * noise.normal(size=self.dim))
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)


OLD, NEW = Geometric(16, 0), Geometric(24, 1)
MAKE_NEW = functools.partial(Geometric, 24, 1)  # what each actor calls once


def _rows(n, changed=()):
    texts = [f"text {i}" + (" v2" if i in changed else "") for i in range(n)]
    return [f"r{i:04d}" for i in range(n)], texts, [f"c{i % 8}" for i in range(n)]


def _table(uri: str, storage_options: dict | None = None) -> None:
    """Several fragments, some with deleted rows: a first build, then an update that changes,
    deletes and adds rows (one merge_insert), as incremental embeds leave a table."""
    update.update(uri, "t", *_rows(200), "old", "fo", True, OLD, "s", storage_options)
    ids, texts, labels = _rows(260, changed=set(range(0, 200, 7)))
    keep = [i for i in range(260) if i % 11 != 5]
    rows = ([ids[i] for i in keep], [texts[i] for i in keep], [labels[i] for i in keep])
    update.update(uri, "t", *rows, "old", "fo", True, OLD, "s", storage_options)


@pytest.fixture(scope="module")
def ray_home(tmp_path_factory):
    return tmp_path_factory.mktemp("ray-home")


@pytest.fixture
def ray_env(monkeypatch, ray_home, ray_running):
    """Ray's workers import this module (to unpickle the encoder): put tests/ on their path. One
    HOME for every Ray instance of this process: Ray keeps the auth token it first read from
    ~/.ray/auth_token, and a later instance started under another HOME would get a new one.
    In process, backfills join the session's running instance (conftest.RaySession)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("HOME", str(ray_home))


def _on_ray(uri, name, column, checkpoint):
    return cluster.backfill(uri, name, column, MAKE_NEW, RAY, threads=2, batch_size=16, checkpoint_path=checkpoint)


def _column(uri, column, name="t"):
    table = lance_table.dataset(uri, name).to_table(columns=["id", column]).sort_by("id")
    return table.column("id").to_pylist(), np.stack(table.column(column).to_pylist()).astype(np.float32)


@SLOW
def test_ray_backfill_is_one_commit_and_byte_equal_to_a_local_migration(tmp_path, ray_env):
    local, ray = str(tmp_path / "local"), str(tmp_path / "ray")
    _table(local)
    shutil.copytree(local, ray)
    fragments = lance_table.dataset(ray, "t").get_fragments()
    physical = sum(f.physical_rows for f in fragments)
    assert (
        len(fragments) >= 2 and physical > lance_table.dataset(ray, "t").count_rows()
    )  # deleted rows in the fragments
    a = migrate.migrate(local, "t", "new", "fn", True, NEW, batch_size=50, k=5, report_dir=tmp_path / "a")
    before = lance_table.dataset(ray, "t").version
    b = migrate.migrate(
        ray, "t", "new", "fn", True, NEW, batch_size=50, k=5, report_dir=tmp_path / "b", backfill=_on_ray
    )
    ids_a, vectors_a = _column(local, "vector_new")
    ids_b, vectors_b = _column(ray, "vector_new")
    assert ids_a == ids_b and vectors_a.tobytes() == vectors_b.tobytes()
    # one Merge commit with the column filled, one registering it, the switch: 3 new versions
    assert b["version"] == before + 3 and a["version"] > before + 3  # local: one commit per batch
    assert b["engine"] == "ray" and b["fragments"] == len(fragments) and b["fragments_done_before"] == 0
    assert a["rows_embedded"] == b["rows_embedded"] == len(ids_a)  # deleted rows are not encoded
    assert b["actors"] == 1 and len(b["fragment_seconds"]) == len(fragments) and b["cluster"]["nodes"]
    assert [c["ok"] for c in b["checks"]] == [True] * 4 and b["comparison"] == a["comparison"]
    assert (
        lance_table.dataset(ray, "t")
        .checkout_version(before + 1)
        .to_table(columns=["vector_new"])
        .column("vector_new")
        .null_count
        == 0
    )  # never a half-filled visible column
    assert not list((tmp_path / "b").glob("backfill-*"))  # the checkpoint is cleared after the commit


@SLOW
def test_a_worker_error_is_one_line_and_nothing_is_committed(tmp_path, ray_env):
    uri = str(tmp_path / "db")
    _table(uri)
    before = lance_table.dataset(uri, "t").version

    def poisoned(texts):
        out = NEW(texts)
        out[0, 0] = np.nan
        return out

    with pytest.raises(VectorStoreError, match="NaN or inf"):
        cluster.backfill(uri, "t", "vector_new", lambda: poisoned, RAY, threads=2, checkpoint_path=tmp_path / "j.json")
    assert (
        lance_table.dataset(uri, "t").version == before
        and "vector_new" not in lance_table.dataset(uri, "t").schema.names
    )


def _child(uri: str, reports: str) -> str:
    return textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from test_cluster_migrate import NEW, _on_ray
        from reprostack.vectors import migrate
        migrate.migrate({uri!r}, "t", "new", "fn", True, NEW, batch_size=50, k=5, report_dir={reports!r},
                        backfill=_on_ray)
    """)


def _killed_at(point: str, uri: str, reports: Path) -> None:
    """The migration on Ray in its own process, SIGKILLed at `point`."""
    child = subprocess.Popen(
        [sys.executable, "-c", _child(uri, str(reports))],
        start_new_session=True,
        env={**os.environ, "REPROSTACK_KILL_AT": point},
    )
    try:
        assert child.wait(timeout=180) == -signal.SIGKILL
    finally:  # the Ray processes the killed driver started are in its process group
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@SLOW
@pytest.mark.parametrize("point", ["migrate.ray-after-fragment", "migrate.ray-after-merge"])
def test_driver_killed_mid_backfill_then_the_same_command_completes(tmp_path, ray_env, point):
    uri, reports = str(tmp_path / "db"), tmp_path / "migrations"
    _table(uri)
    total = lance_table.dataset(uri, "t").count_rows()
    _killed_at(point, uri, reports)
    data = lance_table.dataset(uri, "t")
    checkpoint = reports / "backfill-vector_new-1.json"
    if point == "migrate.ray-after-fragment":
        assert "vector_new" not in data.schema.names  # nothing visible yet
        done = json.loads(checkpoint.read_text())["fragments"]
        assert len(done) == 1
    else:
        assert data.to_table(columns=["vector_new"]).column("vector_new").null_count == 0
        assert "vector_new" not in lance_table.read_meta(data)["columns"]  # committed, not yet registered
    report = migrate.migrate(uri, "t", "new", "fn", True, NEW, batch_size=50, k=5, report_dir=reports, backfill=_on_ray)
    data = lance_table.dataset(uri, "t")
    assert sorted(t for t in data.tags.list() if "migrat" in t) == ["migrated-vector_new-1", "pre-migrate-vector_new-1"]
    assert lance_table.read_meta(data)["active_column"] == "vector_new" and not checkpoint.exists()
    if point == "migrate.ray-after-fragment":  # only the fragments not checkpointed were encoded
        assert report["fragments_done_before"] == 1
        assert 0 < report["rows_embedded"] < total
    else:
        assert report["rows_embedded"] == 0
    table = data.to_table(columns=["text", "vector_new"])
    stored = np.stack(table.column("vector_new").to_pylist()).astype(np.float32)
    assert stored.tobytes() == NEW(table.column("text").to_pylist()).tobytes()


@SLOW
def test_cli_migrate_on_ray_with_the_real_model_equals_the_local_engine_byte_for_byte(built, tmp_path, ray_env):
    """`reprostack vectors migrate --engine ray` against `--engine local`, the packaged MiniLM,
    each from a copy of the same built project (its table has the stand-in's column)."""
    from factories import clone
    from tools import cli_process

    other = clone(built, tmp_path / "other")
    model = "sentence-transformers/all-MiniLM-L6-v2"
    reports = {}
    for root, engine in ((built, "local"), (other, "ray")):
        done = cli_process(root, "vectors", "migrate", "--to", model, "--engine", engine, "--json")
        assert done.returncode == 0, done.stderr
        reports[engine] = json.loads(done.stdout)
    local, ray = reports["local"], reports["ray"]
    assert local["engine"] == "local" and ray["engine"] == "ray" and ray["actors"] >= 1
    assert local["to_column"] == ray["to_column"] and local["rows_embedded"] == ray["rows_embedded"] > 0
    assert ray["cluster"]["ray_version"] and ray["comparison"] == local["comparison"]
    uris = [str(root / "data" / "vectors") for root in (built, other)]
    ids_a, vectors_a = _column(uris[0], local["to_column"], "texts")
    ids_b, vectors_b = _column(uris[1], ray["to_column"], "texts")
    assert ids_a == ids_b and vectors_a.shape[1] == 384 and vectors_a.tobytes() == vectors_b.tobytes()


@SLOW
def test_a_checkpoint_of_another_table_version_is_not_reused(tmp_path, ray_env):
    """Killed mid-backfill, then the table changed (an embed ran): the re-run starts over from
    the new version instead of committing fragments written against the old one."""
    uri, reports = str(tmp_path / "db"), tmp_path / "migrations"
    _table(uri)
    _killed_at("migrate.ray-after-fragment", uri, reports)
    ids, texts, labels = _rows(270)
    update.update(uri, "t", ids, texts, labels, "old", "fo", True, OLD, "s")  # 10 more rows
    report = migrate.migrate(uri, "t", "new", "fn", True, NEW, batch_size=50, k=5, report_dir=reports, backfill=_on_ray)
    assert report["fragments_done_before"] == 0 and report["rows_embedded"] == 270
    table = lance_table.dataset(uri, "t").to_table(columns=["text", "vector_new"])
    assert table.num_rows == 270
    assert (
        np.stack(table.column("vector_new").to_pylist()).astype(np.float32).tobytes()
        == NEW(table.column("text").to_pylist()).tobytes()
    )


@SLOW
def test_the_backfill_writes_straight_to_an_object_store(tmp_path, ray_env, seaweed_s3):
    """The table on S3 (SeaweedFS on loopback): the actors write the column's files there; the same
    bytes as a local migration of the same rows on disk."""
    s3 = seaweed_s3
    local, remote = str(tmp_path / "local"), "s3://vectors/migrate"
    _table(local)
    _table(remote, s3)

    def on_ray(uri, name, column, checkpoint):
        return cluster.backfill(
            uri, name, column, MAKE_NEW, RAY, threads=2, batch_size=16, storage_options=s3, checkpoint_path=checkpoint
        )

    migrate.migrate(local, "t", "new", "fn", True, NEW, batch_size=50, k=5)
    report = migrate.migrate(
        remote,
        "t",
        "new",
        "fn",
        True,
        NEW,
        batch_size=50,
        k=5,
        storage_options=s3,
        report_dir=tmp_path / "reports",
        backfill=on_ray,
    )
    assert report["engine"] == "ray" and report["fragments"] >= 2
    remote_table = (
        lance_table.dataset(remote, "t", storage_options=s3).to_table(columns=["id", "vector_new"]).sort_by("id")
    )
    ids_local, vectors_local = _column(local, "vector_new")
    assert remote_table.column("id").to_pylist() == ids_local
    assert lance_table.vectors_of(remote_table, "vector_new").tobytes() == vectors_local.tobytes()
