"""The DVC-tracked pointer file that pins one table version, and reading exactly that version."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import ConfigDict

from reprostack.core import jsonio
from reprostack.core.errors import VectorStoreError
from reprostack.core.fields import NonNegativeInt, PositiveInt, Sha256, Text, expect
from reprostack.vectors import lance_table

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

VECTORS_POINTER_SCHEMA_VERSION = 2


class VectorsPointer(jsonio.Document):
    """data/vectors.json. Schema 1 had no `tag` (tags came with schema 2): read as untagged."""

    model_config = ConfigDict(frozen=True)
    SCHEMA_VERSION: ClassVar[int] = VECTORS_POINTER_SCHEMA_VERSION
    schema_version: int = VECTORS_POINTER_SCHEMA_VERSION
    uri: Text
    table: Text
    version: PositiveInt  # Lance numbers a table's versions from 1
    tag: str  # names `version`; tagged versions survive `vectors optimize`
    rows: NonNegativeInt
    model: Text
    model_fingerprint: Text
    dimension: PositiveInt
    vector_column: Text
    metric: Annotated[Literal[lance_table.METRIC], expect(f"{lance_table.METRIC!r}, the one metric our tables use")]
    vectors_sha256: Sha256
    snapshot: Text

    @classmethod
    def migrate(cls, data: dict, found: int) -> dict:
        return {"tag": "", **data}  # found == 1: before tags, nothing names the version

    def fields(self) -> dict:
        """The pointer's values without the file's schema_version (what run records keep)."""
        return self.model_dump(exclude={"schema_version"})


@dataclass(frozen=True)
class Rows:
    ids: list[str]
    labels: list[str]
    vectors: np.ndarray


def write_vectors_pointer(path: str | Path, pointer: VectorsPointer) -> None:
    jsonio.save(path, pointer)


def read_vectors_pointer(path: str | Path) -> VectorsPointer:
    return jsonio.load(path, VectorsPointer, error=VectorStoreError, what="vector pointer")


def read_column(data, column: str) -> Rows:
    """Every row's id, label and vector in `column`, in id order.

    Id order, not storage order: merge_insert moves rows, and a model must not depend on the
    history of writes that produced the same content.
    """
    data = data.to_table(columns=["id", "label", column])  # a pylance dataset
    ids, labels = data.column("id").to_pylist(), data.column("label").to_pylist()
    vectors = lance_table.vectors_of(data, column)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    return Rows(ids=[ids[i] for i in order], labels=[labels[i] for i in order], vectors=vectors[order])


def read_rows(pointer: VectorsPointer, storage_options: dict | None = None) -> Rows:
    """Read the table at exactly the pointer's version and prove it is the content recorded."""
    data = lance_table.dataset(pointer.uri, pointer.table, pointer.version, storage_options)
    tagged = data.tags.list().get(pointer.tag)
    if tagged is not None and tagged["version"] != pointer.version:
        raise VectorStoreError(
            f"tag {pointer.tag!r} names version {tagged['version']}, the pointer says {pointer.version}; "
            "the pointer was edited by hand: re-run `dvc repro`"
        )
    if pointer.vector_column not in data.schema.names:
        raise VectorStoreError(f"version {pointer.version} has no column {pointer.vector_column!r}; re-run `dvc repro`")
    rows = read_column(data, pointer.vector_column)
    found = lance_table.content_sha256(rows.ids, rows.labels, rows.vectors)
    if found != pointer.vectors_sha256 or len(rows.ids) != pointer.rows:
        raise VectorStoreError(
            f"table {pointer.table!r} version {pointer.version} does not match its pointer "
            f"(sha256 {found[:12]} != {pointer.vectors_sha256[:12]}); re-run `dvc repro`"
        )
    return rows
