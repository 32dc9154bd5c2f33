"""Runs: the record of every pipeline run, the environment it ran in, reproduce and verify.

`reproduce` and `verify` reach into the registry and the vector table, so callers import them
by name (`from reprostack.runs import verify`); importing this package stays cheap.
"""

from reprostack.runs import environment, records
from reprostack.runs.environment import compare_to_lock
from reprostack.runs.records import RunRecord, list_records, read_record, resolve_run_id, write_record

__all__ = ["RunRecord", "compare_to_lock", "environment", "list_records", "read_record", "records", "resolve_run_id",
           "write_record"]
