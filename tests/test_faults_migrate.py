"""Issue 13, vectors side: a migrate killed at each named point completes on the rerun
(real SIGKILLs, reprostack.core.faults); checked by the table's tags, active column and content."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from reprostack.core.errors import VectorStoreError
from reprostack.vectors import lance_table, migrate

TESTS = Path(__file__).parent
MIGRATE_POINTS = [
    "migrate.after-pre-tag",
    "migrate.after-add-column",
    "migrate.after-batch",
    "migrate.after-switch",
    "migrate.after-tag",
]


def _migrate_child(uri: str, reports: str) -> str:
    return textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from test_vectors_migrate import _table_of, wide
        from reprostack.vectors import migrate
        ids, texts, labels, vecs = _table_of(60)
        migrate.migrate({uri!r}, "t", "wide", "w", True, wide(dict(zip(texts, vecs))), batch_size=20, k=5,
                        report_dir={reports!r})
    """)


@pytest.mark.parametrize("point", MIGRATE_POINTS)
def test_migrate_killed_at_each_point_completes_on_rerun(tmp_path, point):
    from test_vectors_migrate import _labelled, _table_of, wide

    uri, reports = str(tmp_path / "db"), tmp_path / "migrations"
    _labelled(uri)
    child = subprocess.run(
        [sys.executable, "-c", _migrate_child(uri, str(reports))], env={**os.environ, "REPROSTACK_KILL_AT": point}
    )
    assert child.returncode == -9
    ids, texts, labels, vecs = _table_of(60)
    encoder = wide(dict(zip(texts, vecs)))
    report = migrate.migrate(uri, "t", "wide", "w", True, encoder, batch_size=20, k=5, report_dir=reports)
    data = lance_table.dataset(uri, "t")
    tags = sorted(data.tags.list())
    assert [t for t in tags if "migrat" in t] == ["migrated-vector_wide-1", "pre-migrate-vector_wide-1"]
    assert lance_table.read_meta(data)["active_column"] == "vector_wide" and report["from_column"] == "vector"
    assert json.loads((reports / "migrated-vector_wide-1.json").read_text())["migrated_tag"] == "migrated-vector_wide-1"
    # independent: the new column holds exactly the encoder's vectors, every row
    table = data.to_table(columns=["text", "vector_wide"])
    stored = np.stack(table.column("vector_wide").to_pylist()).astype(np.float32)
    np.testing.assert_array_equal(stored, encoder(table.column("text").to_pylist()))
    with pytest.raises(VectorStoreError, match="nothing to migrate"):
        migrate.migrate(uri, "t", "wide", "w", True, encoder, report_dir=reports)
