"""Versions and tags of the vector table: list, show, diff, restore, tag, optimize, drop-column.

Every write to a LanceDB table makes a new version and old versions stay readable, so a
rollback is a restore (metadata only, a new version on top) and never a copy of the data.
"""

from __future__ import annotations

from datetime import timedelta

from reprostack.errors import VectorStoreError
from reprostack.hashing import sha256_text
from reprostack.vectors import search, store


def tags_by_version(table) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for name, info in table.tags.list().items():
        out.setdefault(info["version"], []).append(name)
    return {version: sorted(names) for version, names in out.items()}


def _operation(dataset, version: int) -> str:
    try:
        transaction = dataset.read_transaction(version)
    except Exception:  # cleaned-up transaction files: the version is still listed
        return "?"
    return type(transaction.operation).__name__ if transaction is not None else "?"


def versions(table) -> list[dict]:
    tags = tags_by_version(table)
    dataset = table.to_lance()
    return [{
        "version": v["version"],
        "timestamp": v["timestamp"].isoformat(timespec="seconds"),
        "tags": tags.get(v["version"], []),
        "rows": int(v["metadata"].get("total_rows", 0)),
        "operation": _operation(dataset, v["version"]),
    } for v in table.list_versions()]


def show(table) -> dict:
    """The checked-out version of `table`: rows, columns with their models, indices, tags."""
    meta = store.read_meta(table)
    return {
        "table": table.name,
        "version": table.version,
        "tags": tags_by_version(table).get(table.version, []),
        "rows": table.count_rows(),
        "active_column": meta["active_column"],
        "columns": meta["columns"],
        "params_sha256": meta["params_sha256"],
        "indices": [{"name": i.name, "type": i.index_type, "columns": list(i.columns)} for i in table.list_indices()],
    }


def _fingerprints(table) -> dict[str, str]:
    """id -> a hash of what a reader of this version sees for the row (text, label, vectors)."""
    meta = store.read_meta(table)
    columns = ["id", "text_sha256", "label"] + sorted(meta["columns"])
    data = table.to_lance().to_table(columns=columns)
    values = {name: data.column(name).to_pylist() for name in columns}
    return {row_id: sha256_text(repr([values[c][i] for c in columns[1:]]))
            for i, row_id in enumerate(values["id"])}


def diff(db, name: str, a: int | str, b: int | str) -> dict:
    before = _fingerprints(store.open_table(db, name, a))
    after = _fingerprints(store.open_table(db, name, b))
    return {
        "a": a, "b": b,
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(k for k in set(before) & set(after) if before[k] != after[k]),
    }


def restore(db, name: str, ref: int | str, index_type: str, index_min_rows: int) -> dict:
    """Make `ref` the latest version again, as a new version; rebuild a dropped ANN index."""
    version = store.open_table(db, name, ref).version  # validates ref with a clear error
    table = store.open_table(db, name)
    table.restore(version)
    meta = store.read_meta(table)
    rebuilt = search.ensure_index(table, meta["active_column"], index_type, index_min_rows)
    return {"restored": version, "version": table.version, "index_rebuilt": rebuilt}


def tag(table, name: str, version: int) -> str:
    """Tag `version` with `name`; tags never move, so an existing tag must already name it."""
    existing = table.tags.list().get(name)
    if existing is not None:
        if existing["version"] != version:
            raise VectorStoreError(f"tag {name!r} already names version {existing['version']}; tags never move, pick another name")
        return name
    table.tags.create(name, version)
    return name


def optimize(table, older_than_days: float = 7.0) -> dict:
    """Compact small files, fold new rows into indices, and remove untagged versions older than
    the window plus files a crashed writer left behind. Tagged versions are always kept: every
    pipeline run tags the version it read, so old commits stay reproducible.

    Through pylance: LanceDB's optimize() refuses to run at all once a tagged version is older
    than its cleanup window (DESIGN.md), which with a tag per run is always."""
    dataset = table.to_lance()
    before = len(dataset.versions())
    compaction = dataset.optimize.compact_files()
    if dataset.describe_indices():
        dataset.optimize.optimize_indices()
    # delete_unverified removes files no version references (crash leftovers); only files older
    # than the window are touched, so a write in progress elsewhere keeps its files.
    stats = table.to_lance().cleanup_old_versions(
        older_than=timedelta(days=older_than_days), delete_unverified=True, error_if_tagged_old_versions=False)
    table.checkout_latest()
    return {
        "fragments_removed": compaction.fragments_removed, "fragments_added": compaction.fragments_added,
        "versions_removed": stats.old_versions, "bytes_removed": stats.bytes_removed,
        "versions_before": before, "versions_after": len(table.list_versions()), "version": table.version,
    }


def drop_column(table, column: str, pinned: str | None = None) -> dict:
    meta = store.read_meta(table)
    if column not in meta["columns"]:
        raise VectorStoreError(f"no vector column {column!r}; columns: {', '.join(sorted(meta['columns']))}")
    if column == meta["active_column"]:
        raise VectorStoreError(f"{column!r} is the active column; migrate to another model or restore first")
    if column == pinned:
        raise VectorStoreError(f"{column!r} is the column the pipeline's pointer reads; change embedding.model and run `dvc repro` first")
    table.drop_columns([column])
    store.write_meta(table, {**meta, "columns": {k: v for k, v in meta["columns"].items() if k != column}})
    return {"dropped": column, "version": table.version}
