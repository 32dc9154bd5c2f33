"""The versioned LanceDB table of embeddings and the pointer file that pins one version.

LanceDB versions the big table itself; DVC tracks only the small pointer file. train reads the
table at exactly the pointer's version, so an old commit reads its old vectors even after later
writes, and a content hash in the pointer proves it read the same rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from reprostack import jsonio
from reprostack.errors import VectorStoreError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

POINTER_SCHEMA_VERSION = 1
TABLE_SCHEMA_VERSION = "1"
VECTOR_COLUMN = "vector"
METRIC = "cosine"


@dataclass(frozen=True)
class Pointer:
    uri: str
    table: str
    version: int
    rows: int
    model: str
    model_fingerprint: str
    dimension: int
    vector_column: str
    metric: str
    vectors_sha256: str
    snapshot: str


@dataclass(frozen=True)
class Rows:
    ids: list[str]
    labels: list[str]
    vectors: "np.ndarray"


def content_sha256(ids: list[str], vectors: "np.ndarray") -> str:
    """Hash of (id, vector) pairs in id order: what train needs to be the same, nothing else."""
    import numpy as np

    digest = hashlib.sha256()
    order = sorted(range(len(ids)), key=ids.__getitem__)
    for i in order:
        digest.update(ids[i].encode("utf-8") + b"\0")
        digest.update(np.ascontiguousarray(vectors[i], dtype="<f4").tobytes())
    return digest.hexdigest()


def check_vectors(vectors: "np.ndarray", dimension: int) -> None:
    import numpy as np

    if vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise VectorStoreError(f"vectors have shape {vectors.shape}, expected (n, {dimension}); re-embed with one model")
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        raise VectorStoreError(f"{bad.size} vector(s) contain NaN or inf (first at row {bad[0]}); check the embedding model")


def connect(uri: str):
    import lancedb

    return lancedb.connect(uri)


def _table_names(db) -> list[str]:
    listing = db.list_tables()
    return list(getattr(listing, "tables", listing))


def _build_arrow(ids, texts, labels, vectors, model_name: str, dimension: int):
    import pyarrow as pa

    from reprostack.hashing import sha256_text

    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    schema = pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("text", pa.string()),
            pa.field("label", pa.string()),
            pa.field("text_sha256", pa.string()),
            pa.field(VECTOR_COLUMN, pa.list_(pa.float32(), dimension)),
            pa.field("embedding_model", pa.string()),
            pa.field("embedded_at", pa.string()),
        ],
        metadata={"reprostack.schema_version": TABLE_SCHEMA_VERSION},
    )
    return pa.Table.from_arrays(
        [
            pa.array(ids, pa.string()),
            pa.array(texts, pa.string()),
            pa.array(labels, pa.string()),
            pa.array([sha256_text(t) for t in texts], pa.string()),
            pa.FixedSizeListArray.from_arrays(flat, dimension),
            pa.array([model_name] * len(ids), pa.string()),
            pa.array([now] * len(ids), pa.string()),
        ],
        schema=schema,
    )


def write_table(uri: str, table: str, ids, texts, labels, vectors: "np.ndarray", model_name: str) -> tuple[int, str]:
    """Store the vectors; make a new table version only if the content changed.

    Returns (version, vectors_sha256).
    """
    dimension = int(vectors.shape[1]) if vectors.ndim == 2 else -1
    check_vectors(vectors, dimension)
    if len(set(ids)) != len(ids):
        raise VectorStoreError("duplicate ids in the rows to embed; ids must be unique")
    new_hash = content_sha256(list(ids), vectors)
    db = connect(uri)
    if table in _table_names(db):
        current = db.open_table(table)
        existing = current.to_arrow()
        same_model = set(existing.column("embedding_model").to_pylist()) == {model_name}
        if same_model and existing.num_rows == len(ids):
            rows = _rows_from_arrow(existing)
            if content_sha256(rows.ids, rows.vectors) == new_hash and _same_text(existing, ids, texts, labels):
                return current.version, new_hash
    data = _build_arrow(list(ids), list(texts), list(labels), vectors, model_name, dimension)
    created = db.create_table(table, data, mode="overwrite")
    return created.version, new_hash


def _same_text(existing, ids, texts, labels) -> bool:
    old = dict(zip(existing.column("id").to_pylist(), zip(existing.column("text").to_pylist(), existing.column("label").to_pylist())))
    return all(old.get(i) == (t, l) for i, t, l in zip(ids, texts, labels))


def _rows_from_arrow(arrow_table) -> Rows:
    import numpy as np

    column = arrow_table.column(VECTOR_COLUMN).combine_chunks()
    dimension = column.type.list_size
    vectors = column.values.to_numpy(zero_copy_only=False).reshape(-1, dimension).astype(np.float32, copy=False)
    return Rows(
        ids=arrow_table.column("id").to_pylist(),
        labels=arrow_table.column("label").to_pylist(),
        vectors=vectors,
    )


def read_rows(pointer: Pointer) -> Rows:
    """Read the table at exactly the pointer's version and prove it is the content recorded."""
    db = connect(pointer.uri)
    if pointer.table not in _table_names(db):
        raise VectorStoreError(f"table {pointer.table!r} not found in {pointer.uri}; run `dvc repro` to rebuild it")
    try:
        table = db.open_table(pointer.table, version=pointer.version)
    except Exception as exc:  # lancedb raises plain ValueError/RuntimeError for a missing version
        raise VectorStoreError(
            f"table {pointer.table!r} has no version {pointer.version} in {pointer.uri} ({exc}); "
            "it was cleaned up or the table was rebuilt: re-run `dvc repro`"
        ) from None
    rows = _rows_from_arrow(table.to_arrow())
    found = content_sha256(rows.ids, rows.vectors)
    if found != pointer.vectors_sha256 or len(rows.ids) != pointer.rows:
        raise VectorStoreError(
            f"table {pointer.table!r} version {pointer.version} does not match its pointer "
            f"(sha256 {found[:12]} != {pointer.vectors_sha256[:12]}); re-run `dvc repro`"
        )
    return rows


def write_pointer(path: str | Path, pointer: Pointer) -> None:
    jsonio.write_json(path, asdict(pointer), schema_version=POINTER_SCHEMA_VERSION)


def read_pointer(path: str | Path) -> Pointer:
    fields = tuple(Pointer.__dataclass_fields__)
    data = jsonio.read_json(
        path, schema_version=POINTER_SCHEMA_VERSION, required=fields, error=VectorStoreError, what="vector pointer"
    )
    return Pointer(**{key: data[key] for key in fields})
