"""The shared store: the project's default DVC remote, holding DVC's outputs (pointers, the
candidate, released models) and the vector table's immutable Lance files.

`remote` reads the DVC remote configuration and explains failures in one line; `tables` copies
Lance files; `sync` is push/pull/status/verify; `workspace` links DVC's temporary experiment
workspaces to the project's snapshots and table. Only `workspace` is imported here: every
pipeline stage imports it (so dvc.yaml lists it), and the rest must not re-run the pipeline
when it changes. Import the others by name: `from reprostack.store import sync`.
"""

from reprostack.store import workspace

__all__ = ["workspace"]
