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


def content_sha256(ids: list[str], labels: list[str], vectors: "np.ndarray") -> str:
    """Hash of (id, label, vector) in id order: exactly what train reads, nothing else."""
    import numpy as np

    digest = hashlib.sha256()
    order = sorted(range(len(ids)), key=ids.__getitem__)
    for i in order:
        digest.update(ids[i].encode("utf-8") + b"\0" + labels[i].encode("utf-8") + b"\0")
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


@dataclass(frozen=True)
class Plan:
    """What an update must do, so that only new or changed texts are embedded."""

    embed: list[int]  # rows (indices into the snapshot) whose text is new or changed
    relabel: list[int]  # same text, new label: the stored vector is reused
    delete: list[str]  # ids gone from the snapshot
    rebuild: bool  # no table yet, or another embedding model: write every row afresh

    @property
    def empty(self) -> bool:
        return not (self.embed or self.relabel or self.delete or self.rebuild)


def _sql_list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def plan_update(uri: str, table: str, ids, texts, labels, model_name: str) -> Plan:
    """Compare the snapshot with the latest table version by id and text sha256."""
    from reprostack.hashing import sha256_text

    if len(set(ids)) != len(ids):
        raise VectorStoreError("duplicate ids in the rows to embed; ids must be unique")
    db = connect(uri)
    everything = list(range(len(ids)))
    if table not in _table_names(db):
        return Plan(embed=everything, relabel=[], delete=[], rebuild=True)
    existing = db.open_table(table).to_lance().to_table(columns=["id", "text_sha256", "label", "embedding_model"])
    if set(existing.column("embedding_model").to_pylist()) - {model_name}:
        return Plan(embed=everything, relabel=[], delete=[], rebuild=True)
    stored = {row_id: (sha, label) for row_id, sha, label in zip(
        existing.column("id").to_pylist(), existing.column("text_sha256").to_pylist(), existing.column("label").to_pylist())}
    embed, relabel = [], []
    for i, (row_id, text, label) in enumerate(zip(ids, texts, labels)):
        old = stored.get(row_id)
        if old is None or old[0] != sha256_text(text):
            embed.append(i)
        elif old[1] != label:
            relabel.append(i)
    return Plan(embed=embed, relabel=relabel, delete=sorted(set(stored) - set(ids)), rebuild=False)


def apply_update(uri: str, table: str, plan: Plan, ids, texts, labels, new_vectors: "np.ndarray",
                 model_name: str) -> int:
    """Apply a plan with the vectors of plan.embed (in that order); return the table version.

    An empty plan makes no new version. Upserts go through merge_insert on id, so a re-run
    after a crash simply completes: rows already written match and are updated in place.
    """
    import numpy as np

    db = connect(uri)
    if plan.empty:
        return db.open_table(table).version
    if plan.rebuild:
        check_vectors(new_vectors, int(new_vectors.shape[1]) if new_vectors.ndim == 2 else -1)
        data = _build_arrow(list(ids), list(texts), list(labels), new_vectors, model_name, int(new_vectors.shape[1]))
        return db.create_table(table, data, mode="overwrite").version
    current = db.open_table(table)
    dimension = current.schema.field(VECTOR_COLUMN).type.list_size
    if plan.embed:
        check_vectors(new_vectors, dimension)
    rows = plan.embed + plan.relabel
    if plan.relabel:  # reuse stored vectors: a label change must not cost an embedding
        relabel_ids = [ids[i] for i in plan.relabel]
        stored = _rows_from_arrow(current.to_lance().to_table(
            columns=["id", "label", VECTOR_COLUMN], filter=f"id IN ({_sql_list(relabel_ids)})"))
        by_id = dict(zip(stored.ids, stored.vectors))
        reused = np.stack([by_id[row_id] for row_id in relabel_ids])
        new_vectors = np.concatenate([new_vectors.reshape(-1, dimension), reused]) if plan.embed else reused
    if rows:
        data = _build_arrow([ids[i] for i in rows], [texts[i] for i in rows], [labels[i] for i in rows],
                            new_vectors, model_name, dimension)
        current.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(data)
    if plan.delete:
        current.delete(f"id IN ({_sql_list(plan.delete)})")
    return current.version


def table_content_sha256(uri: str, table: str, version: int) -> str:
    rows = _rows_from_arrow(connect(uri).open_table(table, version=version).to_lance().to_table(
        columns=["id", "label", VECTOR_COLUMN]))
    return content_sha256(rows.ids, rows.labels, rows.vectors)


def write_table(uri: str, table: str, ids, texts, labels, vectors: "np.ndarray", model_name: str) -> tuple[int, str]:
    """Store vectors computed for every row as one new version, unless the content is unchanged.

    Returns (version, vectors_sha256). Every row is rewritten on purpose: sentence-transformers
    pads each batch to its longest text, so a text's vector differs in the last bits with the
    batch it was embedded in, and only a full re-embed gives the same bits as a clean run (which
    `runs reproduce` relies on). plan_update/apply_update are the incremental path, for when
    vectors are batch-invariant or a run restores its table version instead of re-embedding.
    """
    plan = plan_update(uri, table, ids, texts, labels, model_name)
    new_hash = content_sha256(list(ids), list(labels), vectors)
    if plan.empty:
        version = connect(uri).open_table(table).version
        if table_content_sha256(uri, table, version) == new_hash:
            return version, new_hash
    everything = Plan(embed=list(range(len(ids))), relabel=[], delete=[], rebuild=True)
    return apply_update(uri, table, everything, ids, texts, labels, vectors, model_name), new_hash


def _rows_from_arrow(arrow_table) -> Rows:
    import numpy as np

    column = arrow_table.column(VECTOR_COLUMN).combine_chunks()
    dimension = column.type.list_size
    # flatten() honours slice offsets, which .values would ignore
    vectors = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, dimension).astype(np.float32, copy=False)
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
    found = content_sha256(rows.ids, rows.labels, rows.vectors)
    if found != pointer.vectors_sha256 or len(rows.ids) != pointer.rows:
        raise VectorStoreError(
            f"table {pointer.table!r} version {pointer.version} does not match its pointer "
            f"(sha256 {found[:12]} != {pointer.vectors_sha256[:12]}); re-run `dvc repro`"
        )
    # id order, not storage order: merge_insert moves rows, and a model must not depend on the
    # history of writes that produced the same content
    order = sorted(range(len(rows.ids)), key=rows.ids.__getitem__)
    return Rows(ids=[rows.ids[i] for i in order], labels=[rows.labels[i] for i in order], vectors=rows.vectors[order])


def write_pointer(path: str | Path, pointer: Pointer) -> None:
    jsonio.write_json(path, asdict(pointer), schema_version=POINTER_SCHEMA_VERSION)


def read_pointer(path: str | Path) -> Pointer:
    fields = tuple(Pointer.__dataclass_fields__)
    data = jsonio.read_json(
        path, schema_version=POINTER_SCHEMA_VERSION, required=fields, error=VectorStoreError, what="vector pointer"
    )
    return Pointer(**{key: data[key] for key in fields})
