"""The LanceDB table of embeddings: connection, layout, table metadata, pinned reads.

LanceDB versions the big table itself; DVC tracks only a small pointer file naming one version
(and a tag that keeps that version safe from cleanup). A content hash in the pointer proves a
reader got exactly the rows the pointer was written for.

Layout: one row per text (id, text, label, text_sha256, embedding_model, embedded_at) and one
vector column per embedding model. The table's own metadata (JSON under the schema metadata key
"reprostack") maps each vector column to its model, fingerprint and dimension, and names the
active column; a model migration adds a column beside the old one instead of copying the table.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from reprostack.core.errors import VectorStoreError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

TABLE_SCHEMA_VERSION = 2
META_KEY = "reprostack"
FIRST_COLUMN = "vector"
METRIC = "cosine"
ROW_FIELDS = ("id", "text", "label", "text_sha256", "embedding_model", "embedded_at")


def connect(uri: str, storage_options: dict | None = None):
    """A LanceDB connection for writes. A local path or an object-store URI (s3://, gs://, az://)
    goes through the same code."""
    import lancedb

    return lancedb.connect(uri, storage_options=storage_options or None)


def dataset(uri: str, name: str, ref: int | str | None = None, storage_options: dict | None = None):
    """The same table read through pylance, LanceDB's storage layer: importing lancedb costs
    about 3 s here (its namespace client builds pydantic models), pylance 0.6 s, and reads
    (train, evaluate, a no-op embed) need nothing more."""
    import lance

    try:
        data = lance.dataset(table_path(uri, name), storage_options=storage_options or None)
    except (ValueError, OSError):
        raise VectorStoreError(f"table {name!r} not found in {uri}; run `dvc repro` to build it") from None
    if ref is None:
        return data
    try:
        return data.checkout_version(int(ref) if isinstance(ref, str) and ref.isdigit() else ref)
    except (ValueError, OSError, KeyError, RuntimeError):
        known = ", ".join(sorted(data.tags.list())) or "none"
        raise VectorStoreError(
            f"table {name!r} has no version or tag {ref!r} (tags: {known}); "
            "list them with `reprostack vectors versions`"
        ) from None


def table_path(uri: str, name: str) -> str:
    """Where LanceDB keeps table `name` of database `uri`."""
    return f"{uri.rstrip('/')}/{name}.lance"


def exists(uri: str, name: str, storage_options: dict | None = None) -> bool:
    try:
        dataset(uri, name, storage_options=storage_options)
    except VectorStoreError:
        return False
    return True


def table_names(db) -> list[str]:
    listing = db.list_tables()
    return list(getattr(listing, "tables", listing))


def open_table(db, name: str, ref: int | str | None = None):
    """The latest version, or a version number, or a tag; unknown ones are one clear error."""
    if name not in table_names(db):
        raise VectorStoreError(f"table {name!r} not found; run `dvc repro` to build it")
    table = db.open_table(name)
    if ref is None:
        return table
    if isinstance(ref, str) and ref.isdigit():
        ref = int(ref)
    try:
        table.checkout(ref)
    except Exception:  # lancedb raises ValueError/RuntimeError/IOError depending on the case
        known = ", ".join(sorted(table.tags.list())) or "none"
        raise VectorStoreError(
            f"table {name!r} has no version or tag {ref!r} (tags: {known}); "
            "list them with `reprostack vectors versions`"
        ) from None
    return table


def parse_ref(text: str | None) -> int | str | None:
    if text is None:
        return None
    return int(text) if text.isdigit() else text


# ---- table metadata ----------------------------------------------------------------------


def read_meta(table) -> dict:
    """Works on a LanceDB table and on a pylance dataset alike (both expose an arrow schema)."""
    raw = (table.schema.metadata or {}).get(META_KEY.encode())
    if raw is None:
        raise VectorStoreError(
            "the vector table has no reprostack metadata (made by another tool or an older "
            "version); rebuild it: delete the table directory and run `dvc repro`"
        )
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise VectorStoreError(
            "the vector table has corrupted reprostack metadata; restore an earlier version"
        ) from None
    if meta.get("schema_version") != TABLE_SCHEMA_VERSION:
        raise VectorStoreError(
            f"the vector table has metadata schema {meta.get('schema_version')!r}, this code reads "
            f"{TABLE_SCHEMA_VERSION}; rebuild the table with `dvc repro` after deleting it"
        )
    return meta


def new_meta(params_sha256: str) -> dict:
    return {
        "schema_version": TABLE_SCHEMA_VERSION,
        "params_sha256": params_sha256,
        "active_column": None,
        "columns": {},
    }


def write_meta(data, meta: dict) -> None:
    """One commit (a new table version); `data` is a LanceDB table or a pylance dataset."""
    dataset = data.to_lance() if hasattr(data, "to_lance") else data
    dataset.update_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True)})
    if hasattr(data, "checkout_latest"):
        data.checkout_latest()


def meta_field(meta: dict) -> dict[bytes, bytes]:
    return {META_KEY.encode(): json.dumps(meta, sort_keys=True).encode()}


def column_encoding(info: dict) -> str:
    """A column's encoding scheme (model/encoding.py); columns from before it was recorded used
    the per-length scheme."""
    from reprostack.model.encoding import LEGACY_SCHEME

    return info.get("encoding", LEGACY_SCHEME)


def column_backend(info: dict) -> str:
    """A column's embedding backend (model/backends.py); columns from before it was recorded were
    encoded by torch."""
    return info.get("backend", "torch")


def column_for(
    meta: dict, model: str, fingerprint: str, normalize: bool, encoding: str, backend: str = "torch"
) -> str | None:
    """The vector column made by this exact model (name, weights, normalisation, encoding scheme,
    backend), if any: vectors encoded another way are another column, never mixed into this one."""
    for name, info in meta["columns"].items():
        if (info["model"], info["fingerprint"], info["normalize"], column_encoding(info), column_backend(info)) == (
            model,
            fingerprint,
            normalize,
            encoding,
            backend,
        ):
            return name
    return None


def new_column_name(meta: dict, model: str, fingerprint: str, encoding: str = "", backend: str = "torch") -> str:
    if not meta["columns"]:
        return FIRST_COLUMN
    slug = re.sub(r"[^a-z0-9]+", "_", model.rstrip("/").rsplit("/", 1)[-1].lower()).strip("_")[:40] or "model"
    scheme = f"vector_{slug}_{re.sub(r'[^a-z0-9]+', '_', encoding.lower())}".rstrip("_")
    for name in (f"vector_{slug}", scheme, f"{scheme}_{backend}"):
        if name not in meta["columns"]:
            return name
    return f"{name}_{fingerprint[:8]}"


def register_column(
    meta: dict,
    column: str,
    model: str,
    fingerprint: str,
    normalize: bool,
    dimension: int,
    encoding: str,
    backend: str = "torch",
) -> dict:
    columns = {
        **meta["columns"],
        column: {
            "model": model,
            "fingerprint": fingerprint,
            "normalize": normalize,
            "dimension": dimension,
            "metric": METRIC,
            "added_utc": utc_now(),
            "encoding": encoding,
            "backend": backend,
        },
    }
    return {**meta, "columns": columns, "active_column": meta["active_column"] or column}


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def params_sha256(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


# ---- rows ---------------------------------------------------------------------------------


def vector_field(column: str, dimension: int):
    import pyarrow as pa

    return pa.field(column, pa.list_(pa.float32(), dimension))


def row_schema(meta: dict):
    import pyarrow as pa

    fields = [pa.field("id", pa.string(), nullable=False)] + [pa.field(n, pa.string()) for n in ROW_FIELDS[1:]]
    fields += [vector_field(name, info["dimension"]) for name, info in sorted(meta["columns"].items())]
    return pa.schema(fields, metadata=meta_field(meta))


def vector_array(vectors: np.ndarray, dimension: int):
    import pyarrow as pa

    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, dimension)


def check_vectors(vectors: np.ndarray, dimension: int) -> None:
    import numpy as np

    if vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise VectorStoreError(
            f"vectors have shape {vectors.shape}, the column holds dimension {dimension}; "
            "embed with the column's model, or migrate with `reprostack vectors migrate`"
        )
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        raise VectorStoreError(
            f"{bad.size} vector(s) contain NaN or inf (first at row {bad[0]}); check the embedding model"
        )


def vectors_of(arrow_table, column: str) -> np.ndarray:
    import numpy as np

    values = arrow_table.column(column).combine_chunks()
    if values.null_count:
        raise VectorStoreError(f"{values.null_count} row(s) have no vector in column {column!r}; re-run `dvc repro`")
    # flatten() honours slice offsets, which .values would ignore
    return (
        values.flatten()
        .to_numpy(zero_copy_only=False)
        .reshape(-1, values.type.list_size)
        .astype(np.float32, copy=False)
    )


def content_sha256(ids: list[str], labels: list[str], vectors: np.ndarray) -> str:
    """Hash of (id, label, vector) in id order: exactly what train reads, nothing else."""
    import numpy as np

    digest = hashlib.sha256()
    for i in sorted(range(len(ids)), key=ids.__getitem__):
        digest.update(ids[i].encode("utf-8") + b"\0" + labels[i].encode("utf-8") + b"\0")
        digest.update(np.ascontiguousarray(vectors[i], dtype="<f4").tobytes())
    return digest.hexdigest()


def sql_list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)
