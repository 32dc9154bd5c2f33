"""The model registry: registry.json (store), its history log, GTO-format git tags,
promote/rollback, release and the verified loader (the HTTP server is reprostack.serving).

Only the light modules load here; `promotion`, `release` and `loader` pull in the
pipeline's libraries and are imported by name where used (`from reprostack.registry import release`).
"""

from reprostack.registry import history, store, tags

__all__ = ["history", "store", "tags"]
