"""The model registry: registry.json (store), its history log, GTO-format git tags,
promote/rollback, release, the verified loader and the HTTP server that follows the registry.

Only the light modules load here; `promotion`, `release`, `loader` and `serving` pull in the
pipeline's libraries and are imported by name where used (`from reprostack.registry import release`).
"""

from reprostack.registry import history, store, tags

__all__ = ["history", "store", "tags"]
