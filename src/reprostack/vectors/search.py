"""Nearest-neighbour search over one vector column, and the ANN index that speeds it up.

Under `embedding.index_min_rows` rows a flat scan is exact and fast enough (DESIGN.md), so the
index is built only above it. Rows added after the index was built are searched flat and merged
in by LanceDB, so results stay complete; `vectors optimize` folds them into the index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reprostack.core.errors import VectorStoreError
from reprostack.vectors import lance_table

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

# Query-time knobs of the ANN index, from bench/bench_vectors.py on 1M x 384 clustered vectors
# (2 cores, 10 partitions): without re-ranking, recall@10 stops at ~0.93 whatever ef and nprobes
# are, because IVF_HNSW_SQ keeps 8-bit vectors; re-ranking 2k candidates on the full vectors gives
# 0.999 at p50 12.8 ms with nprobes 5 (nprobes 20: 1.000 at 17.1 ms).
HNSW_EF = 100
IVF_NPROBES = 5
HNSW_REFINE_FACTOR = 2
PQ_REFINE_FACTOR = 10
ROWS_PER_PARTITION = 100_000


@dataclass(frozen=True)
class Hits:
    rows: list[dict]  # id, text, label, distance
    index_used: bool
    seconds: float


def index_on(table, column: str):
    for index in table.list_indices():
        if list(index.columns) == [column]:
            return index
    return None


def ensure_index(table, column: str, index_type: str, min_rows: int) -> bool:
    """Build the column's ANN index once the table is big enough; True if one was built now."""
    from lancedb.index import HnswSq, IvfPq

    rows = table.count_rows()
    if rows < min_rows or index_on(table, column) is not None:
        return False
    partitions = max(1, rows // ROWS_PER_PARTITION)
    if index_type == "IVF_HNSW_SQ":
        config = HnswSq(distance_type=lance_table.METRIC, num_partitions=partitions)
    else:
        dimension = table.schema.field(column).type.list_size
        sub_vectors = next(n for n in (96, 64, 48, 32, 16, 8, 4, 2, 1) if dimension % n == 0)
        config = IvfPq(
            distance_type=lance_table.METRIC,
            num_partitions=max(partitions, int(rows**0.5) // 4),
            num_sub_vectors=sub_vectors,
        )
    table.create_index(column, config=config)
    return True


def check_where(table, where: str) -> None:
    """Run the filter once on its own, so a typo is one clear line before any model loads.
    One expression only: LanceDB parses up to a `;` and silently drops the rest."""
    import re

    if ";" in re.sub(r"'(?:[^']|'')*'", "", where):  # a ';' outside string literals
        raise VectorStoreError(
            f"--where {where!r} holds more than one statement; give one SQL expression "
            "such as \"label = 'sports'\" (no ';')"
        )
    try:
        table.count_rows(where)
    except (ValueError, RuntimeError) as exc:  # LanceDB reports SQL parse and unknown-column errors so
        raise VectorStoreError(
            f"--where {where!r} does not parse: {str(exc).splitlines()[0][:200]}; use SQL like \"label = 'sports'\""
        ) from None


def check_k(k: int) -> None:
    if k <= 0:
        raise VectorStoreError(f"-k must be a positive number of results, got {k}")


def search(table, column: str, query: np.ndarray, k: int = 5, where: str | None = None) -> Hits:
    check_k(k)
    dimension = table.schema.field(column).type.list_size
    if query.shape != (dimension,):
        raise VectorStoreError(f"query vector has shape {query.shape}, column {column!r} holds {dimension} dimensions")
    builder = table.search(query, vector_column_name=column).metric(lance_table.METRIC).limit(k)
    builder = builder.select(["id", "text", "label", "_distance"])
    index = index_on(table, column)
    if index is not None:
        builder = builder.nprobes(IVF_NPROBES)
        if "Hnsw" in index.index_type:
            builder = builder.ef(HNSW_EF)
            builder = builder.refine_factor(HNSW_REFINE_FACTOR) if HNSW_REFINE_FACTOR else builder
        else:
            builder = builder.refine_factor(PQ_REFINE_FACTOR)
    if where:
        check_where(table, where)
        builder = builder.where(where, prefilter=True)
    started = time.perf_counter()
    result = builder.to_arrow()
    seconds = time.perf_counter() - started
    plan = builder.explain_plan()
    rows = [
        {"id": r["id"], "text": r["text"], "label": r["label"], "distance": r["_distance"]} for r in result.to_pylist()
    ]
    return Hits(rows=rows, index_used="ANNSubIndex" in plan or "ANNIvf" in plan, seconds=seconds)


def search_text(
    uri: str,
    table: str | None,
    text: str,
    k: int,
    *,
    where: str | None,
    column: str | None,
    ref: int | str | None,
    params,
    root,
    on_load,
):
    """(table, column, hits) for the k rows nearest to `text`, encoded with the model the column
    was embedded with (its recorded fingerprint must match the installed weights); api.search_vectors."""
    from reprostack.core.errors import VectorStoreError
    from reprostack.model import embedding
    from reprostack.vectors import lance_table

    check_k(k)  # every argument is checked before the model loads (seconds)
    emb = params.embedding
    db = lance_table.connect(uri, emb.storage_options)
    table = lance_table.open_table(db, table or emb.table, ref)
    meta = lance_table.read_meta(table)
    column = column or meta["active_column"]
    if column not in meta["columns"]:
        raise VectorStoreError(f"no vector column {column!r}; columns: {', '.join(sorted(meta['columns']))}")
    info = meta["columns"][column]
    if where:
        check_where(table, where)
    resolved = embedding.resolve(info["model"], root=root, revision=info.get("revision"))
    if embedding.fingerprint(resolved.path) != info["fingerprint"]:
        raise VectorStoreError(
            f"the installed weights of {info['model']!r} differ from the ones column {column!r} was "
            "embedded with; install the recorded model or re-embed"
        )
    if on_load is not None:
        on_load(f"loading {info['model']} from {resolved.path} to encode the query...")
    encode = embedding.lazy_encoder(
        resolved,
        emb.device,
        1,
        info["normalize"],
        params.seed,
        params.threads,
        scheme=lance_table.column_encoding(info),
        backend=lance_table.column_backend(info),
    )
    return table, column, search(table, column, encode([text])[0], k=k, where=where)
