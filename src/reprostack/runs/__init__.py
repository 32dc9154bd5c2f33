"""Runs: the record of every pipeline run, the environment it ran in, reproduce, and the
project's checks behind `verify` (verify, integrity; the registry's own are registry/audit.py).

`reproduce` and `verify` reach into the vector table and the store, so callers import them by
name (`from reprostack.runs import verify`); importing this package stays cheap. runs imports no
registry module: the registry stands on runs (a release is made from a run record).
"""

from reprostack.runs import environment, records
from reprostack.runs.environment import compare_to_lock
from reprostack.runs.records import RunRecord, list_records, read_record, resolve_run_id, write_record

__all__ = [
    "RunRecord",
    "compare_to_lock",
    "environment",
    "list_records",
    "read_record",
    "records",
    "resolve_run_id",
    "write_record",
]
