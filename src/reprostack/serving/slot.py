"""The model being served, and how it follows the registry.

It follows the registry without a restart: every request stats models/registry.json (a few
microseconds) and, when the file changed (promote, rollback: they replace it atomically),
resolves the reference again and loads the new version, sha256-verified. A reload that fails
(a tampered file, a broken registry) keeps the verified model that is already serving and
reports the error in /health and /model, instead of taking the service down.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from reprostack.core import names
from reprostack.core.errors import ReprostackError, ServeError
from reprostack.registry import catalog, loader


class ModelSlot:
    """The model being served, swapped in place when the registry says so."""

    def __init__(self, root: str | Path, ref: str, embedder_factory: Callable[[dict], loader.Embedder]):
        self.root = Path(root)
        self.name, which = names.parse_ref(ref)
        is_version = bool(which and names.VERSION_RE.match(which))
        self.version = which if is_version else None
        self.stage = None if is_version else (which or "production")
        self.embedder_factory = embedder_factory
        self.embedders: dict[tuple, loader.Embedder] = {}
        self.current: loader.LoadedModel | None = None
        self.error: str | None = None
        self.reloads = 0
        self._seen = None
        self._lock = threading.Lock()
        self.refresh()
        if self.current is None:
            raise ServeError(f"cannot serve {ref}: {self.error}")

    def stale(self) -> bool:
        """The registry file changed since it was last read (a stat: microseconds)."""
        return self._signature() != self._seen or self.current is None

    def _signature(self):
        try:
            st = os.stat(self.root / catalog.REGISTRY_FILE)
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_ino, st.st_size

    def refresh(self) -> None:
        signature = self._signature()
        if signature == self._seen and self.current is not None:
            return
        with self._lock:
            if signature == self._seen and self.current is not None:
                return
            try:
                entry = loader.select_entry(catalog.read(self.root), self.name, self.stage, self.version)
                current = self.current
                if current and (current.version, current.sha256) == (entry["version"], entry["model"]["sha256"]):
                    current.stage = entry["stage"]  # same model, new stage: nothing to load
                else:
                    model = loader.load_entry(self.root, self.name, entry)
                    key = tuple(sorted(model.embedding.items()))
                    if key not in self.embedders:
                        self.embedders[key] = self.embedder_factory(model.embedding)
                    self.current = model
                    self.reloads += 1
                self.error = None
            except ReprostackError as exc:
                self.error = str(exc)
            self._seen = signature

    def embedder(self, model: loader.LoadedModel) -> loader.Embedder:
        return self.embedders[tuple(sorted(model.embedding.items()))]
