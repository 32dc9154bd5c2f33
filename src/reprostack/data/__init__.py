"""Data: immutable, content-addressed snapshots of the raw data and their sha256 manifests.

dataset (reading the CSV a snapshot holds), hook (the project's data.preprocess), hashing,
manifest (the schema, the digest, checking a directory against it), refs (labels and the pointer
file), snapshot (create, locate, verify, diff, list), cow (copy-on-write placement). Cheap to
import: pydantic, no numpy or pandas.
"""

from reprostack.data import dataset, hashing, hook, manifest, refs, snapshot
from reprostack.data.dataset import TextTable, read_text_table
from reprostack.data.hook import read_dataset
from reprostack.data.manifest import Manifest
from reprostack.data.refs import Snapshot, read_snapshot_pointer, write_snapshot_pointer
from reprostack.data.snapshot import list_snapshots, list_source_files, require_verified

__all__ = [
    "Manifest",
    "Snapshot",
    "TextTable",
    "dataset",
    "hashing",
    "hook",
    "list_snapshots",
    "list_source_files",
    "manifest",
    "read_dataset",
    "read_snapshot_pointer",
    "read_text_table",
    "refs",
    "require_verified",
    "snapshot",
    "write_snapshot_pointer",
]
