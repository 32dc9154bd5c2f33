"""The model registry: registry.json (catalog), its history log, GTO-format git tags,
promote/rollback, release and the verified loader (the HTTP server is reprostack.serving).

Only the light modules load here; `promotion`, `release` and `loader` pull in the
pipeline's libraries and are imported by name where used (`from reprostack.registry import release`).
"""

from reprostack.registry import catalog, history, tags
from reprostack.registry.catalog import Registry, find_model, in_stage, latest_version, require_model, require_version
from reprostack.registry.history import Event

__all__ = [
    "Event",
    "Registry",
    "catalog",
    "find_model",
    "history",
    "in_stage",
    "latest_version",
    "require_model",
    "require_version",
    "tags",
]
