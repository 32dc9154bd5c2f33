"""Runs: the record of every pipeline run, the environment it ran in, reproduce and verify.

`reproduce` and `verify` reach into the registry and the vector table, so callers import them
by name (`from reprostack.runs import verify`); importing this package stays cheap.
"""

from reprostack.runs import environment, records

__all__ = ["environment", "records"]
