"""The DVC-tracked pointer file that pins one table version, and reading exactly that version."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reprostack import jsonio
from reprostack.errors import VectorStoreError
from reprostack.vectors import store

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

POINTER_SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Pointer:
    uri: str
    table: str
    version: int
    tag: str  # names `version`; tagged versions survive `vectors optimize`
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


def write_pointer(path: str | Path, pointer: Pointer) -> None:
    jsonio.write_json(path, asdict(pointer), schema_version=POINTER_SCHEMA_VERSION)


def read_pointer(path: str | Path) -> Pointer:
    fields = tuple(Pointer.__dataclass_fields__)
    data = jsonio.read_json(
        path, schema_version=POINTER_SCHEMA_VERSION, required=fields, error=VectorStoreError, what="vector pointer"
    )
    return Pointer(**{key: data[key] for key in fields})


def read_column(data, column: str) -> Rows:
    """Every row's id, label and vector in `column`, in id order.

    Id order, not storage order: merge_insert moves rows, and a model must not depend on the
    history of writes that produced the same content.
    """
    data = data.to_table(columns=["id", "label", column])  # a pylance dataset
    ids, labels = data.column("id").to_pylist(), data.column("label").to_pylist()
    vectors = store.vectors_of(data, column)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return Rows(ids=[ids[i] for i in order], labels=[labels[i] for i in order], vectors=vectors[order])


def read_rows(pointer: Pointer, storage_options: dict | None = None) -> Rows:
    """Read the table at exactly the pointer's version and prove it is the content recorded."""
    data = store.dataset(pointer.uri, pointer.table, pointer.version, storage_options)
    tagged = data.tags.list().get(pointer.tag)
    if tagged is not None and tagged["version"] != pointer.version:
        raise VectorStoreError(
            f"tag {pointer.tag!r} names version {tagged['version']}, the pointer says {pointer.version}; "
            "the pointer was edited by hand: re-run `dvc repro`")
    if pointer.vector_column not in data.schema.names:
        raise VectorStoreError(f"version {pointer.version} has no column {pointer.vector_column!r}; re-run `dvc repro`")
    rows = read_column(data, pointer.vector_column)
    found = store.content_sha256(rows.ids, rows.labels, rows.vectors)
    if found != pointer.vectors_sha256 or len(rows.ids) != pointer.rows:
        raise VectorStoreError(
            f"table {pointer.table!r} version {pointer.version} does not match its pointer "
            f"(sha256 {found[:12]} != {pointer.vectors_sha256[:12]}); re-run `dvc repro`"
        )
    return rows
