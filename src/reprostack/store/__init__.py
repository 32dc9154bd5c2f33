"""The shared store: the project's default DVC remote, holding DVC's outputs (pointers, the
candidate, released models) and the vector table's immutable Lance files.

`remote` reads the DVC remote configuration and explains failures in one line; `tables` copies
Lance files; `sync` is push/pull/status/verify. No pipeline stage imports this package (DVC's
temporary workspaces are reprostack.core.workspace). Import the modules by name:
`from reprostack.store import sync`.
"""
