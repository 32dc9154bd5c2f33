"""The model registry: registry.json (store), its history log, GTO-format git tags,
promote/rollback, release and the verified loader (the HTTP server is reprostack.serving).

Only the light modules load here; `promotion`, `release` and `loader` pull in the
pipeline's libraries and are imported by name where used (`from reprostack.registry import release`).
"""

from reprostack.registry import history, store, tags
from reprostack.registry.history import Event
from reprostack.registry.store import Registry, find_model, in_stage, latest_version, require_model, require_version

__all__ = ["Event", "Registry", "find_model", "history", "in_stage", "latest_version", "require_model",
           "require_version", "store", "tags"]
