"""The checks of a migrated column and the A/B of two vector columns (vectors migrate's verify
step): rows, nulls, dimension, model recorded, a search that finds its own row, and label
precision@k with neighbour overlap, old column against new."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprostack.vectors import lance_table, pointer, search

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

PRECISION_SAMPLE = 1000  # query rows for label precision@k; exact kNN over every row
CANDIDATE_LIMIT = 50_000  # rows searched per query in that comparison, to bound its cost


def verify(
    uri: str, name: str, old: str, new: str, model: str, encode, k: int, storage_options: dict | None = None
) -> tuple[list[dict], dict]:

    data = lance_table.dataset(uri, name, storage_options=storage_options)
    meta = lance_table.read_meta(data)
    rows = data.count_rows()
    nulls = data.count_rows(filter=f"{new} IS NULL")
    dimension = data.schema.field(new).type.list_size
    checks = [
        {"check": "rows", "ok": rows > 0 and nulls == 0, "detail": f"{rows} rows, {nulls} without a vector"},
        {"check": "dimension", "ok": dimension == meta["columns"][new]["dimension"], "detail": f"{dimension}"},
        {
            "check": "model recorded",
            "ok": meta["columns"][new]["model"] == model,
            "detail": meta["columns"][new]["model"],
        },
    ]
    if nulls:
        return checks, {"precision_at_k": {old: 0.0, new: 0.0}}
    first = data.to_table(columns=["id", "text"], limit=1)
    query = encode(first.column("text").to_pylist())[0]
    hits = search.search(lance_table.open_table(lance_table.connect(uri, storage_options), name), new, query, k=1)
    checks.append(
        {
            "check": "search",
            "ok": bool(hits.rows) and hits.rows[0]["id"] == first.column("id")[0].as_py(),
            "detail": f"nearest to row {first.column('id')[0].as_py()!r} is "
            f"{hits.rows[0]['id'] if hits.rows else None!r}",
        }
    )
    comparison = compare(data, old, new, k)
    return checks, comparison


def label_precision(vectors: np.ndarray, labels: list[str], queries: np.ndarray, k: int) -> tuple[float, np.ndarray]:
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
    return {
        "k": k,
        "queries": len(queries),
        "precision_at_k": {old: round(p_old, 4), new: round(p_new, 4)},
        "dimension": {old: int(old_rows.vectors.shape[1]), new: int(new_rows.vectors.shape[1])},
        "neighbour_overlap": round(overlap, 4),
    }
