"""Versions and tags of the vector table: list, show, diff, restore, tag, optimize, drop-column.

Every write to a LanceDB table makes a new version and old versions stay readable, so a
rollback is a restore (metadata only, a new version on top) and never a copy of the data. These
work on pylance datasets (see lance_table.dataset): the same table, without lancedb's 3 s import.
"""

from __future__ import annotations

from datetime import timedelta

from reprostack.core.errors import VectorStoreError
from reprostack.data.hashing import sha256_text
from reprostack.vectors import lance_table


def tags_by_version(data) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for name, info in data.tags.list().items():
        out.setdefault(info["version"], []).append(name)
    return {version: sorted(names) for version, names in out.items()}


def _operation(data, version: int) -> str:
    try:
        transaction = data.read_transaction(version)
    except Exception:  # cleaned-up transaction files: the version is still listed
        return "?"
    return type(transaction.operation).__name__ if transaction is not None else "?"


def versions(data) -> list[dict]:
    tags = tags_by_version(data)
    return [
        {
            "version": v["version"],
            "timestamp": v["timestamp"].isoformat(timespec="seconds"),
            "tags": tags.get(v["version"], []),
            "rows": int(v["metadata"].get("total_rows", 0)),
            "operation": _operation(data, v["version"]),
        }
        for v in data.versions()
    ]


def indices(data) -> list[dict]:
    return [{"name": i.name, "type": i.index_type, "columns": list(i.field_names)} for i in data.describe_indices()]


def show(data) -> dict:
    """One version: rows, columns with their models, indices, tags."""
    meta = lance_table.read_meta(data)
    return {
        "version": data.version,
        "tags": tags_by_version(data).get(data.version, []),
        "rows": data.count_rows(),
        "active_column": meta["active_column"],
        "columns": meta["columns"],
        "params_sha256": meta["params_sha256"],
        "indices": indices(data),
    }


def _fingerprints(data) -> dict[str, str]:
    """id -> a hash of what a reader of this version sees for the row (text, label, vectors)."""
    meta = lance_table.read_meta(data)
    columns = ["id", "text_sha256", "label"] + sorted(meta["columns"])
    table = data.to_table(columns=columns)
    values = {name: table.column(name).to_pylist() for name in columns}
    return {row_id: sha256_text(repr([values[c][i] for c in columns[1:]])) for i, row_id in enumerate(values["id"])}


def diff(uri: str, name: str, a: int | str, b: int | str, storage_options: dict | None = None) -> dict:
    before = _fingerprints(lance_table.dataset(uri, name, a, storage_options))
    after = _fingerprints(lance_table.dataset(uri, name, b, storage_options))
    return {
        "a": a,
        "b": b,
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(k for k in set(before) & set(after) if before[k] != after[k]),
    }


def restore(
    uri: str, name: str, ref: int | str, index_type: str, index_min_rows: int, storage_options: dict | None = None
) -> dict:
    """Make `ref` the latest version again, as a new version; rebuild a dropped ANN index
    (LanceDB drops an index on restore to a version from before it was built)."""
    target = lance_table.dataset(uri, name, ref, storage_options)  # validates ref with a clear error
    restored = target.version
    target.restore()
    rebuilt = False
    if target.count_rows() >= index_min_rows:
        from reprostack.vectors import search

        table = lance_table.open_table(lance_table.connect(uri, storage_options), name)
        rebuilt = search.ensure_index(table, lance_table.read_meta(target)["active_column"], index_type, index_min_rows)
    return {
        "restored": restored,
        "version": lance_table.dataset(uri, name, storage_options=storage_options).version,
        "index_rebuilt": rebuilt,
    }


def tag(data, name: str, version: int) -> str:
    """Tag `version` with `name`; tags never move, so an existing tag must already name it."""
    existing = data.tags.list().get(name)
    if existing is not None:
        if existing["version"] != version:
            raise VectorStoreError(
                f"tag {name!r} already names version {existing['version']}; tags never move, pick another name"
            )
        return name
    data.tags.create(name, version)
    return name


def optimize(data, older_than_days: float = 7.0) -> dict:
    """Compact small files, fold new rows into indices, and remove untagged versions older than
    the window plus files a crashed writer left behind. Tagged versions are always kept: every
    pipeline run tags the version it read, so old commits stay reproducible.

    Through pylance: LanceDB's optimize() refuses to run at all once a tagged version is older
    than its cleanup window (DESIGN.md), which with a tag per run is always."""
    before = len(data.versions())
    compaction = data.optimize.compact_files()
    if data.describe_indices():
        data.optimize.optimize_indices()
    # delete_unverified also removes unreferenced files younger than lance's 7-day safety margin:
    # the data files a kill -9 left behind. It would also remove the files of a write still in
    # progress, so optimize must not run beside another writer (the CLI help says so).
    stats = data.cleanup_old_versions(
        older_than=timedelta(days=older_than_days), delete_unverified=True, error_if_tagged_old_versions=False
    )
    after = data.versions()
    return {
        "fragments_removed": compaction.fragments_removed,
        "fragments_added": compaction.fragments_added,
        "versions_removed": stats.old_versions,
        "bytes_removed": stats.bytes_removed,
        "versions_before": before,
        "versions_after": len(after),
        "version": after[-1]["version"],
    }


def drop_column(data, column: str, pinned: str | None = None) -> dict:
    meta = lance_table.read_meta(data)
    if column not in meta["columns"]:
        raise VectorStoreError(f"no vector column {column!r}; columns: {', '.join(sorted(meta['columns']))}")
    if column == meta["active_column"]:
        raise VectorStoreError(f"{column!r} is the active column; migrate to another model or restore first")
    if column == pinned:
        raise VectorStoreError(
            f"{column!r} is the column the pipeline's pointer reads; change embedding.model and run `dvc repro` first"
        )
    data.drop_columns([column])
    lance_table.write_meta(data, {**meta, "columns": {k: v for k, v in meta["columns"].items() if k != column}})
    return {"dropped": column, "version": data.latest_version}
