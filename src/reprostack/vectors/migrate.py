"""Embedding-model upgrades without copies: a new vector column beside the old one.

    tag the current version pre-migrate-<column>-<n>   (the rollback target)
    add the column (metadata only; the dimension may differ, 384 -> 768)
    fill it in batches, one commit each               (a crash resumes at the first empty row)
    verify: rows, no nulls, dimension, model recorded, search, label precision@k old vs new
    switch the active column                          (one commit) and tag migrated-<column>-<n>

Rollback is `vectors restore pre-migrate-...`; the old column stays until `vectors drop-column`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from reprostack.errors import VectorStoreError
from reprostack.model.encoding import DEFAULT_SCHEME
from reprostack.vectors import pointer, search, store
from reprostack.vectors.update import fill_column

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

PRECISION_SAMPLE = 1000  # query rows for label precision@k; exact kNN over every row
CANDIDATE_LIMIT = 50_000  # rows searched per query in that comparison, to bound its cost


def plan(uri: str, name: str, to_model: str, fingerprint: str, normalize: bool,
         storage_options: dict | None = None, encoding: str = DEFAULT_SCHEME) -> dict:
    data = store.dataset(uri, name, storage_options=storage_options)
    meta = store.read_meta(data)
    active = meta["active_column"]
    current = meta["columns"][active]
    if (current["model"], current["fingerprint"], current["normalize"], store.column_encoding(current)) == (
            to_model, fingerprint, normalize, encoding):
        raise VectorStoreError(f"{to_model!r} is already the active model (column {active!r}); nothing to migrate")
    column = store.column_for(meta, to_model, fingerprint, normalize, encoding)
    resuming = column is not None
    column = column or store.new_column_name(meta, to_model, fingerprint, encoding)
    empty = data.count_rows(filter=f"{column} IS NULL") if resuming else data.count_rows()
    return {"table": name, "version": data.version, "rows": data.count_rows(), "from_column": active,
            "from_model": current["model"], "to_column": column, "to_model": to_model, "rows_to_embed": empty,
            "resuming": resuming}


def _next_tag(data, prefix: str) -> str:
    taken = set(data.tags.list())
    n = 1
    while f"{prefix}-{n}" in taken:
        n += 1
    return f"{prefix}-{n}"


def migrate(uri: str, name: str, to_model: str, fingerprint: str, normalize: bool,
            encode: Callable[[list[str]], "np.ndarray"], batch_size: int = 1024, k: int = 10,
            max_precision_drop: float = 0.05, storage_options: dict | None = None,
            encoding: str = DEFAULT_SCHEME) -> dict:
    p = plan(uri, name, to_model, fingerprint, normalize, storage_options, encoding)
    column = p["to_column"]
    data = store.dataset(uri, name, storage_options=storage_options)
    if not p["resuming"]:
        pre_tag = _next_tag(data, f"pre-migrate-{column}")
        data.tags.create(pre_tag, data.version)
    else:  # the tag made by the interrupted run: the newest pre-migrate tag of this column
        pre_tag = max((t for t in data.tags.list() if t.startswith(f"pre-migrate-{column}-")),
                      key=lambda t: int(t.rsplit("-", 1)[1]))
    started = time.perf_counter()
    embedded = 0
    while True:
        data = store.dataset(uri, name, storage_options=storage_options)
        meta = store.read_meta(data)
        filter_ = f"{column} IS NULL" if column in data.schema.names else None
        batch = data.to_table(columns=["id", "text"], filter=filter_, limit=batch_size)
        if batch.num_rows == 0:
            break
        vectors = encode(batch.column("text").to_pylist())
        dimension = int(vectors.shape[1]) if vectors.ndim == 2 else -1
        if column not in meta["columns"]:
            store.check_vectors(vectors, dimension)
            data.add_columns(store.vector_field(column, dimension))
            store.write_meta(data, store.register_column(meta, column, to_model, fingerprint, normalize, dimension,
                                                             encoding))
            data = store.dataset(uri, name, storage_options=storage_options)
            meta = store.read_meta(data)
        dimension = meta["columns"][column]["dimension"]
        store.check_vectors(vectors, dimension)
        fill_column(data, column, batch.column("id").to_pylist(), vectors, dimension)
        embedded += batch.num_rows
    embed_seconds = time.perf_counter() - started
    data = store.dataset(uri, name, storage_options=storage_options)
    checks, comparison = verify(uri, name, p["from_column"], column, to_model, encode, k, storage_options)
    failed = [c for c in checks if not c["ok"]]
    drop = comparison["precision_at_k"][p["from_column"]] - comparison["precision_at_k"][column]
    if drop > max_precision_drop:
        failed.append({"check": "precision", "ok": False,
                       "detail": f"label precision@{k} drops by {drop:.3f} (limit {max_precision_drop})"})
    if failed:
        raise VectorStoreError(
            f"migration to {to_model!r} filled column {column!r} but did not switch: "
            + "; ".join(f"{c['check']}: {c['detail']}" for c in failed)
            + f". The active column is still {p['from_column']!r}; fix and re-run, or restore {pre_tag}")
    meta = store.read_meta(data)
    store.write_meta(data, {**meta, "active_column": column})  # the switch: one commit
    data = store.dataset(uri, name, storage_options=storage_options)
    done_tag = _next_tag(data, f"migrated-{column}")
    data.tags.create(done_tag, data.version)
    return {**p, "version": data.version, "rows_embedded": embedded, "embed_seconds": round(embed_seconds, 3),
            "pre_migration_tag": pre_tag, "migrated_tag": done_tag, "checks": checks, "comparison": comparison,
            "rollback": f"reprostack vectors restore {pre_tag}"}


def verify(uri: str, name: str, old: str, new: str, model: str, encode, k: int,
           storage_options: dict | None = None) -> tuple[list[dict], dict]:

    data = store.dataset(uri, name, storage_options=storage_options)
    meta = store.read_meta(data)
    rows = data.count_rows()
    nulls = data.count_rows(filter=f"{new} IS NULL")
    dimension = data.schema.field(new).type.list_size
    checks = [
        {"check": "rows", "ok": rows > 0 and nulls == 0, "detail": f"{rows} rows, {nulls} without a vector"},
        {"check": "dimension", "ok": dimension == meta["columns"][new]["dimension"], "detail": f"{dimension}"},
        {"check": "model recorded", "ok": meta["columns"][new]["model"] == model, "detail": meta["columns"][new]["model"]},
    ]
    if nulls:
        return checks, {"precision_at_k": {old: 0.0, new: 0.0}}
    first = data.to_table(columns=["id", "text"], limit=1)
    query = encode(first.column("text").to_pylist())[0]
    hits = search.search(store.open_table(store.connect(uri, storage_options), name), new, query, k=1)
    checks.append({"check": "search", "ok": bool(hits.rows) and hits.rows[0]["id"] == first.column("id")[0].as_py(),
                   "detail": f"nearest to row {first.column('id')[0].as_py()!r} is "
                             f"{hits.rows[0]['id'] if hits.rows else None!r}"})
    comparison = compare(data, old, new, k)
    return checks, comparison


def label_precision(vectors: "np.ndarray", labels: list[str], queries: "np.ndarray", k: int) -> tuple[float, "np.ndarray"]:
    """Share of each query row's k nearest neighbours (cosine, itself excluded) with its label."""
    import numpy as np

    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    scores = unit[queries] @ unit.T
    scores[np.arange(len(queries)), queries] = -np.inf
    nearest = np.argpartition(-scores, k, axis=1)[:, :k]
    label_array = np.asarray(labels)
    return float((label_array[nearest] == label_array[queries][:, None]).mean()), nearest


def compare(data, old: str, new: str, k: int) -> dict:
    """A/B of two vector columns on the labelled rows: precision@k and neighbour overlap."""
    import numpy as np

    old_rows = pointer.read_column(data, old)
    new_rows = pointer.read_column(data, new)
    n = min(len(old_rows.ids), CANDIDATE_LIMIT)
    k = min(k, n - 1)
    rng = np.random.default_rng(0)
    candidates = np.sort(rng.choice(len(old_rows.ids), size=n, replace=False))
    queries = np.sort(rng.choice(n, size=min(PRECISION_SAMPLE, n), replace=False))
    labels = [old_rows.labels[i] for i in candidates]
    p_old, nn_old = label_precision(old_rows.vectors[candidates], labels, queries, k)
    p_new, nn_new = label_precision(new_rows.vectors[candidates], labels, queries, k)
    overlap = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(nn_old, nn_new)]))
    return {"k": k, "queries": len(queries), "precision_at_k": {old: round(p_old, 4), new: round(p_new, 4)},
            "dimension": {old: int(old_rows.vectors.shape[1]), new: int(new_rows.vectors.shape[1])},
            "neighbour_overlap": round(overlap, 4)}
