"""The versioned vector table: store (layout, metadata), pointer (pinned reads), update
(incremental embedding), versions (versions, tags, diff, restore, optimize), search (queries and
the ANN index) and migrate (embedding-model upgrades in a new column)."""

from reprostack.vectors.pointer import POINTER_SCHEMA_VERSION, Pointer, Rows, read_pointer, read_rows, write_pointer
from reprostack.vectors.store import METRIC, check_vectors, connect, content_sha256, open_table, read_meta

__all__ = [
    "METRIC", "POINTER_SCHEMA_VERSION", "Pointer", "Rows", "check_vectors", "connect", "content_sha256",
    "open_table", "read_meta", "read_pointer", "read_rows", "write_pointer",
]
