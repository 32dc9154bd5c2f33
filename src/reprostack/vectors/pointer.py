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

VECTORS_POINTER_SCHEMA_VERSION = 3


class VectorsPointer(jsonio.Document):
    """data/vectors.json, a DVC output: it names the table's content, never a local version.

    Schema 3 names the version by its content-named tag (`snap-<snapshot>-<content sha256>`,
    which embed creates on whatever version holds that content) and leaves the version number
    out: Lance numbers versions per table (1 in a fresh table, 4 in a grown one), so the number
    differed between a rebuild and the committed pointer, and dvc.lock with it. Schema 2 had
    both (read as such: the tag first, the number where the tag is missing); schema 1 no tag.
    """

    model_config = ConfigDict(frozen=True)
    SCHEMA_VERSION: ClassVar[int] = VECTORS_POINTER_SCHEMA_VERSION
    schema_version: int = VECTORS_POINTER_SCHEMA_VERSION
    uri: Text
    table: Text
    version: PositiveInt | None = None  # schema 2 only (and run records, for reading by people)
    tag: str  # names the version; tagged versions survive `vectors optimize`
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

    def to_json(self) -> dict:
        data = super().to_json()
        if data.get("version") is None:
            data.pop("version", None)  # schema 3 files carry no local version number
        return data

    @property
    def ref(self) -> int | str:
        """What names the pointer's version in the table: its tag, else (older pointers) the number."""
        return self.tag or self.version

    def fields(self) -> dict:
        """The pointer's values without the file's schema_version (what run records keep)."""
        return {k: v for k, v in self.model_dump(exclude={"schema_version"}).items() if v is not None}


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


def open_version(pointer: VectorsPointer, storage_options: dict | None = None):
    """The table (a pylance dataset) at the pointer's version, found through its tag. A schema 2
    pointer whose tag is gone (or a record made before tags) falls back to its version number;
    the content check of read_rows proves it either way."""
    if pointer.tag and pointer.version is not None:
        data = lance_table.dataset(pointer.uri, pointer.table, storage_options=storage_options)
        if pointer.tag not in data.tags.list():  # a missing version: one line, naming it
            return lance_table.dataset(pointer.uri, pointer.table, pointer.version, storage_options)
    if not pointer.ref:
        raise VectorStoreError("the vector pointer names no tag and no version; re-run `dvc repro`")
    return lance_table.dataset(pointer.uri, pointer.table, pointer.ref, storage_options)


def resolve_version(pointer: VectorsPointer, storage_options: dict | None = None) -> int:
    """The local version number the pointer's tag names in this table."""
    return open_version(pointer, storage_options).version


def read_rows(pointer: VectorsPointer, storage_options: dict | None = None) -> Rows:
    """Read the table at exactly the pointer's version and prove it is the content recorded."""
    data = open_version(pointer, storage_options)
    where = f"table {pointer.table!r} version {data.version}" + (f" (tag {pointer.tag})" if pointer.tag else "")
    if pointer.vector_column not in data.schema.names:
        raise VectorStoreError(f"{where} has no column {pointer.vector_column!r}; re-run `dvc repro`")
    rows = read_column(data, pointer.vector_column)
    found = lance_table.content_sha256(rows.ids, rows.labels, rows.vectors)
    if found != pointer.vectors_sha256 or len(rows.ids) != pointer.rows:
        raise VectorStoreError(
            f"{where} does not match its pointer "
            f"(sha256 {found[:12]} != {pointer.vectors_sha256[:12]}); re-run `dvc repro`"
        )
    return rows
