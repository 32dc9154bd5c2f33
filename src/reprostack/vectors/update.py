"""Incremental embedding: only new or changed texts are embedded, in one atomic commit.

Rows are keyed by id and carry the sha256 of their text. An update embeds rows whose text is
new or changed (or that have no vector yet in the model's column), relabels rows whose label
alone changed without re-embedding them, and deletes rows gone from the snapshot, all in one
merge_insert: readers see the old version or the new one, never half. Nothing changed means no
new version. embedding.embed is batch-invariant, so the result is bit-identical to a full run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reprostack.core.errors import VectorStoreError
from reprostack.data.hashing import sha256_text
from reprostack.model.encoding import DEFAULT_SCHEME
from reprostack.vectors import lance_table
from reprostack.vectors.guard import check_written, drop_duplicates

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

Encoder = Callable[[list[str]], "np.ndarray"]


@dataclass(frozen=True)
class Plan:
    column: str
    embed: list[int]  # rows (indices into the input) whose text is new or changed
    fill: list[int]  # same text, but no vector in this column yet (a new model, a crashed fill)
    relabel: list[int]  # same text, new label: the stored vectors are kept
    delete: list[str]  # ids gone from the input

    @property
    def empty(self) -> bool:
        return not (self.embed or self.fill or self.relabel or self.delete)


@dataclass(frozen=True)
class Result:
    version: int
    column: str
    dimension: int
    embedded: int
    relabelled: int
    deleted: int
    new_version: bool
    deduplicated: int = 0  # ids held by several rows before this update, rewritten once


def check_unique(ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for row_id in ids:
        if row_id in seen:
            raise VectorStoreError(f"duplicate id {row_id!r} in the rows to embed; ids must be unique")
        seen.add(row_id)


def plan(data, column: str, ids, texts, labels) -> Plan:
    """Compare the input with a version of the table (a pylance dataset) by id, text sha256 and label."""
    check_unique(ids)
    names = ["id", "text_sha256", "label"] + ([column] if column in data.schema.names else [])
    stored = data.to_table(columns=names)
    has_vector = stored.column(column).is_valid().to_pylist() if column in names else [False] * stored.num_rows
    known = {
        row_id: (sha, label, ok)
        for row_id, sha, label, ok in zip(
            stored.column("id").to_pylist(),
            stored.column("text_sha256").to_pylist(),
            stored.column("label").to_pylist(),
            has_vector,
        )
    }
    embed, fill, relabel = [], [], []
    for i, (row_id, text, label) in enumerate(zip(ids, texts, labels)):
        old = known.get(row_id)
        if old is None or old[0] != sha256_text(text):
            embed.append(i)
            continue
        if not old[2]:
            fill.append(i)
        if old[1] != label:
            relabel.append(i)
    gone = set(known) - set(ids)
    return Plan(column=column, embed=embed, fill=fill, relabel=relabel, delete=sorted(gone))


def _source_rows(table, meta: dict, p: Plan, ids, texts, labels, vectors, model: str):
    """The rows to upsert, with every column: other models' vectors of a changed text are
    nulled (stale; `vectors migrate` refills them), a relabelled row keeps its vectors."""
    import pyarrow as pa

    schema = lance_table.row_schema(meta)
    now = lance_table.utc_now()
    embedded = (
        pa.table(
            {
                "id": [ids[i] for i in p.embed],
                "text": [texts[i] for i in p.embed],
                "label": [labels[i] for i in p.embed],
                "text_sha256": [sha256_text(texts[i]) for i in p.embed],
                "embedding_model": [model] * len(p.embed),
                "embedded_at": [now] * len(p.embed),
                **{
                    name: (
                        lance_table.vector_array(vectors, info["dimension"])
                        if name == p.column
                        else pa.nulls(len(p.embed), lance_table.vector_field(name, info["dimension"]).type)
                    )
                    for name, info in meta["columns"].items()
                },
            }
        )
        .select(schema.names)
        .cast(schema)
    )
    if not p.relabel:
        return embedded
    relabel_ids = [ids[i] for i in p.relabel]
    kept = table.to_table(columns=schema.names, filter=f"id IN ({lance_table.sql_list(relabel_ids)})")
    new_label = dict(zip(relabel_ids, (labels[i] for i in p.relabel)))
    kept = kept.set_column(
        kept.schema.get_field_index("label"),
        "label",
        pa.array([new_label[i] for i in kept.column("id").to_pylist()], pa.string()),
    )
    return pa.concat_tables([embedded, kept.cast(schema)])


def update(
    uri: str,
    name: str,
    ids,
    texts,
    labels,
    model: str,
    fingerprint: str,
    normalize: bool,
    encode: Encoder,
    settings_sha256: str,
    storage_options: dict | None = None,
    encoding: str = DEFAULT_SCHEME,
    backend: str = "torch",
) -> Result:
    """Bring table `name` in line with (ids, texts, labels) for one embedding model.

    `encode` is called only for the texts that need it, so a run with nothing to embed never
    loads the model. A model with no column yet gets one beside the existing columns.
    """
    import numpy as np

    ids, texts, labels = list(ids), list(texts), list(labels)
    check_unique(ids)
    if not lance_table.exists(uri, name, storage_options):
        return _create(
            uri,
            name,
            ids,
            texts,
            labels,
            model,
            fingerprint,
            normalize,
            encode,
            settings_sha256,
            storage_options,
            encoding,
            backend,
        )
    # Reads and writes go through pylance, the engine under LanceDB (same table, same versions):
    # a run with nothing to do then never imports lancedb (3 s), and LanceDB's wrapper refuses
    # the null vectors that mark another model's vectors of a changed text as stale.
    data = lance_table.dataset(uri, name, storage_options=storage_options)
    deduplicated = drop_duplicates(data)  # before the plan, so their rows are embedded anew
    if deduplicated:
        data = lance_table.dataset(uri, name, storage_options=storage_options)
    meta = lance_table.read_meta(data)
    column = lance_table.column_for(meta, model, fingerprint, normalize, encoding, backend)
    p = plan(
        data, column or lance_table.new_column_name(meta, model, fingerprint, encoding, backend), ids, texts, labels
    )
    if p.empty and column and meta["params_sha256"] == settings_sha256:
        info = meta["columns"][column]
        return Result(data.version, column, info["dimension"], 0, 0, 0, new_version=False)
    table = data
    before = table.version
    todo = p.embed + p.fill
    vectors = encode([texts[i] for i in todo]) if todo else None
    if column is None:  # a new model: add its column (a metadata-only change) and fill it below
        column = p.column
        dimension = int(vectors.shape[1]) if vectors.ndim == 2 else -1
        lance_table.check_vectors(vectors, dimension)
        meta = lance_table.register_column(meta, column, model, fingerprint, normalize, dimension, encoding, backend)
        table.add_columns(lance_table.vector_field(column, dimension))
    dimension = meta["columns"][column]["dimension"]
    if vectors is None:
        vectors = np.empty((0, dimension), np.float32)
    lance_table.check_vectors(vectors, dimension)
    if meta["params_sha256"] != settings_sha256 or table.version != before:
        lance_table.write_meta(table, {**meta, "params_sha256": settings_sha256})
        table = lance_table.dataset(uri, name, storage_options=storage_options)
        meta = lance_table.read_meta(table)
    if p.fill:  # only this column: the row's other columns are current and stay as they are
        fill_column(table, column, [ids[i] for i in p.fill], vectors[len(p.embed) :], dimension)
        table = lance_table.dataset(uri, name, storage_options=storage_options)
    vectors = vectors[: len(p.embed)]
    if p.embed or p.relabel or p.delete:
        source = _source_rows(table, meta, p, ids, texts, labels, vectors, model)
        merge = table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all()
        if p.delete:
            merge = merge.when_not_matched_by_source_delete(f"id IN ({lance_table.sql_list(p.delete)})")
        merge.execute(source)
    after = lance_table.dataset(uri, name, storage_options=storage_options)
    check_written(after, before)
    version = after.version
    return Result(
        version,
        column,
        dimension,
        len(todo),
        len(p.relabel),
        len(p.delete),
        new_version=True,
        deduplicated=deduplicated,
    )


def fill_column(data, column: str, ids: list[str], vectors: np.ndarray, dimension: int) -> None:
    """Set one vector column for existing rows, as one commit (merge on id, this column only)."""
    import pyarrow as pa

    source = pa.table({"id": pa.array(ids, pa.string()), column: lance_table.vector_array(vectors, dimension)})
    data.merge_insert("id").when_matched_update_all().execute(source)


def _create(
    uri,
    name,
    ids,
    texts,
    labels,
    model,
    fingerprint,
    normalize,
    encode,
    settings_sha256,
    storage_options,
    encoding,
    backend="torch",
) -> Result:
    """A new table, in one commit. An encoder with `write_table` (the Ray engine's: its workers
    write the table's fragments, cluster/build.py) writes it itself; else the vectors come here."""
    import functools

    import lance
    import pyarrow as pa

    if not ids:
        raise VectorStoreError("no rows to embed; the snapshot's data file has no rows")
    # Everything but the dimension, which the model decides: the same metadata for either engine.
    template = lance_table.register_column(
        lance_table.new_meta(settings_sha256),
        lance_table.FIRST_COLUMN,
        model,
        fingerprint,
        normalize,
        -1,
        encoding,
        backend,
    )
    schema_for = functools.partial(_schema_with_dimension, template)
    now = lance_table.utc_now()
    rows = pa.table(
        {
            "id": ids,
            "text": texts,
            "label": labels,
            "text_sha256": [sha256_text(t) for t in texts],
            "embedding_model": [model] * len(ids),
            "embedded_at": [now] * len(ids),
        }
    )
    path = lance_table.table_path(uri, name)
    if hasattr(encode, "write_table"):
        version, dimension = encode.write_table(path, rows, schema_for, storage_options)
        return Result(version, lance_table.FIRST_COLUMN, dimension, len(ids), 0, 0, new_version=True)
    vectors = encode(texts)
    dimension = int(vectors.shape[1]) if vectors.ndim == 2 else -1
    lance_table.check_vectors(vectors, dimension)
    schema = schema_for(dimension)
    data = rows.append_column(lance_table.FIRST_COLUMN, lance_table.vector_array(vectors, dimension)).select(
        schema.names
    )
    table = lance.write_dataset(data.cast(schema), path, mode="create", storage_options=storage_options or None)
    return Result(table.version, lance_table.FIRST_COLUMN, dimension, len(ids), 0, 0, new_version=True)


def _schema_with_dimension(meta: dict, dimension: int):
    columns = {name: {**info, "dimension": dimension} for name, info in meta["columns"].items()}
    return lance_table.row_schema({**meta, "columns": columns})
