"""The versioned vector table: lance_table (layout, metadata), pointer (pinned reads), update
(incremental embedding), versions (versions, tags, diff, restore, optimize), search (queries and
the ANN index), migrate (embedding-model upgrades in a new column) and compare (its checks and
A/B of two columns)."""

from reprostack.vectors.lance_table import METRIC, check_vectors, connect, content_sha256, open_table, read_meta
from reprostack.vectors.pointer import (
    VECTORS_POINTER_SCHEMA_VERSION,
    Rows,
    VectorsPointer,
    open_version,
    read_rows,
    read_vectors_pointer,
    resolve_version,
    write_vectors_pointer,
)

__all__ = [
    "METRIC",
    "VECTORS_POINTER_SCHEMA_VERSION",
    "VectorsPointer",
    "Rows",
    "check_vectors",
    "connect",
    "content_sha256",
    "open_table",
    "open_version",
    "read_meta",
    "read_vectors_pointer",
    "read_rows",
    "resolve_version",
    "write_vectors_pointer",
]
