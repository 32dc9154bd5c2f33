"""Embedding-model upgrades (vectors/migrate.py) on real LanceDB: a new column filled, checked
and switched to, resumed after kill -9, rolled back by one restore; the old column dropped."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from test_vectors import Encoder, _table_of

from reprostack.core.errors import VectorStoreError
from reprostack.vectors import lance_table, migrate, update, versions


def _labelled(uri, n=60):
    ids, texts, labels, vecs = _table_of(n)
    lookup = dict(zip(texts, vecs))
    update.update(uri, "t", ids, texts, labels, "m", "f", True, lambda t: np.stack([lookup[x] for x in t]), "s")
    return texts, lookup


def wide(lookup, dim=24):
    """A second 'model': the same geometry in more dimensions (a fixed random projection)."""
    projection = np.random.default_rng(7).normal(size=(16, dim)).astype(np.float32)
    return lambda texts: np.stack([lookup[t] @ projection for t in texts])


def test_migrate_adds_a_column_switches_and_restores(tmp_path):
    uri = str(tmp_path / "db")
    _, lookup = _labelled(uri)
    before = lance_table.dataset(uri, "t").version
    with pytest.raises(VectorStoreError, match="already the active model"):
        migrate.migrate(uri, "t", "m", "f", True, Encoder(dim=16))
    dry = migrate.plan(uri, "t", "wide", "w", True)
    assert dry["rows_to_embed"] == 60 and dry["to_column"] == "vector_wide"
    assert lance_table.dataset(uri, "t").version == before  # a plan writes nothing
    report = migrate.migrate(uri, "t", "wide", "w", True, wide(lookup), batch_size=25, k=5, report_dir=tmp_path / "m")
    assert report["rows_embedded"] == 60 and all(c["ok"] for c in report["checks"])
    precision = report["comparison"]["precision_at_k"]
    assert precision["vector"] > 0.9 and precision["vector_wide"] > 0.9
    # the A/B as plot rows (`dvc plots show runs/migrations/ab.json`), one per column
    rows = json.loads((tmp_path / "m" / migrate.AB_FILE).read_text())["rows"]
    assert [(r["column"], r["precision_at_k"]) for r in rows] == [
        (f"{report['migrated_tag']}: vector (m)", precision["vector"]),
        (f"{report['migrated_tag']}: vector_wide (wide)", precision["vector_wide"]),
    ]
    data = lance_table.dataset(uri, "t")
    meta = lance_table.read_meta(data)
    assert meta["active_column"] == "vector_wide" and meta["columns"]["vector_wide"]["dimension"] == 24
    assert "vector" in data.schema.names  # the old column stays until drop-column
    # rollback: one restore of the pre-migration tag
    versions.restore(uri, "t", report["pre_migration_tag"], "IVF_HNSW_SQ", 10_000)
    assert lance_table.read_meta(lance_table.dataset(uri, "t"))["active_column"] == "vector"


def test_migrate_fails_on_bad_vectors_without_switching(tmp_path):
    uri = str(tmp_path / "db")
    _, lookup = _labelled(uri)

    def nan_encoder(texts):
        out = wide(lookup)(texts)
        out[0, 0] = np.nan
        return out

    with pytest.raises(VectorStoreError, match="NaN or inf"):
        migrate.migrate(uri, "t", "wide", "w", True, nan_encoder)
    assert lance_table.read_meta(lance_table.dataset(uri, "t"))["active_column"] == "vector"
    # a model that scrambles the geometry: filled, verified, and refused at the precision check
    rng = np.random.default_rng(3)
    with pytest.raises(VectorStoreError, match="precision@5 drops"):
        migrate.migrate(uri, "t", "noise", "n", True, lambda t: rng.normal(size=(len(t), 24)).astype(np.float32), k=5)
    assert lance_table.read_meta(lance_table.dataset(uri, "t"))["active_column"] == "vector"


def test_kill_9_during_migrate_resumes_where_it_stopped(tmp_path):
    uri = str(tmp_path / "db")
    _labelled(uri)
    # the child is killed on its third batch: two batches (20 rows) are committed
    script = textwrap.dedent(f"""
        import os, signal, numpy as np, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_vectors_migrate import _table_of, wide
        from reprostack.vectors import migrate
        ids, texts, labels, vecs = _table_of(60)
        encode, calls = wide(dict(zip(texts, vecs))), []
        def dying(batch):
            calls.append(1)
            if len(calls) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return encode(batch)
        migrate.migrate({uri!r}, "t", "wide", "w", True, dying, batch_size=10)
    """)
    assert subprocess.run([sys.executable, "-c", script]).returncode == -9
    data = lance_table.dataset(uri, "t")
    assert data.count_rows(filter="vector_wide IS NULL") == 40
    assert lance_table.read_meta(data)["active_column"] == "vector"
    ids, texts, labels, vecs = _table_of(60)
    encoder = wide(dict(zip(texts, vecs)))
    seen = []
    report = migrate.migrate(uri, "t", "wide", "w", True, lambda t: (seen.extend(t), encoder(t))[1], batch_size=10)
    assert (
        report["resuming"]
        and report["rows_embedded"] == 40
        and report["pre_migration_tag"] == "pre-migrate-vector_wide-1"
    )
    assert len(seen) == 40 + 1  # the rest, plus one query for the search check


def test_drop_column_refuses_the_active_one(tmp_path):
    uri = str(tmp_path / "db")
    _, lookup = _labelled(uri)
    migrate.migrate(uri, "t", "wide", "w", True, wide(lookup))
    table = lance_table.dataset(uri, "t")
    with pytest.raises(VectorStoreError, match="is the active column"):
        versions.drop_column(table, "vector_wide")
    with pytest.raises(VectorStoreError, match="the pipeline's pointer reads"):
        versions.drop_column(table, "vector", pinned="vector")
    versions.drop_column(table, "vector")
    assert "vector" not in lance_table.dataset(uri, "t").schema.names
