"""`reprostack serve`: a small HTTP service for one registered model.

POST /predict, GET /model (name, version, stage, sha256), GET /health.

It follows the registry without a restart: every request stats models/registry.json (a few
microseconds) and, when the file changed (promote, rollback: they replace it atomically),
resolves the reference again and loads the new version, sha256-verified. A reload that fails
(a tampered file, a broken registry) keeps the verified model that is already serving and
reports the error in /health and /model, instead of taking the service down.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from reprostack import names
from reprostack.errors import ReprostackError, ServeError
from reprostack.registry import loader, store

MAX_TEXTS = 256
MAX_CHARS = 10_000


class PredictRequest(BaseModel):
    texts: list[str]


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

    def _signature(self):
        try:
            st = os.stat(self.root / store.REGISTRY_FILE)
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
                entry = loader.select_entry(store.read(self.root), self.name, self.stage, self.version)
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


class Batcher:
    """Requests that arrive while a prediction runs are embedded together in the next one.

    No extra thread and no timer: each request queues its texts and takes the run lock; whoever
    holds it predicts everything queued so far, and the others find their results ready. One
    batch of 8 texts costs little more than one text, so concurrent clients share the work
    instead of queueing behind each other (torch and BLAS already use every core).
    """

    def __init__(self) -> None:
        self._queue: list[dict] = []
        self._queue_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def predict(self, slot: ModelSlot, texts: list[str]) -> tuple[dict, list[dict]]:
        job = {"texts": texts, "done": False}
        with self._queue_lock:
            self._queue.append(job)
        with self._run_lock:
            if not job["done"]:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                model = slot.current
                try:
                    predictions = model.predict([t for j in batch for t in j["texts"]], slot.embedder(model))
                except Exception as exc:  # every waiting request gets the error, not a hang
                    predictions, error = None, exc
                start = 0
                for j in batch:
                    if predictions is None:
                        j["error"] = error
                    else:
                        j["result"] = (model.info(), predictions[start:start + len(j["texts"])])
                        start += len(j["texts"])
                    j["done"] = True
        if "error" in job:
            raise job["error"]
        return job["result"]


def create_app(root: str | Path, ref: str, embedder_factory: Callable[[dict], loader.Embedder] | None = None):
    slot = ModelSlot(root, ref, embedder_factory or (lambda embedding: loader.text_embedder(embedding, root)))
    batcher = Batcher()
    app = FastAPI(title="reprostack", version="1")
    app.state.slot = slot

    def model_info() -> dict:
        return {**slot.current.info(), "reference": ref, "reload_error": slot.error}

    @app.get("/health")
    def health() -> dict:
        slot.refresh()
        return {"status": "degraded" if slot.error else "ok", "version": slot.current.version, "error": slot.error}

    @app.get("/model")
    def model() -> dict:
        slot.refresh()
        return model_info()

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict:
        if not request.texts or len(request.texts) > MAX_TEXTS:
            raise HTTPException(422, f"texts must hold 1 to {MAX_TEXTS} strings")
        if any(not t.strip() or len(t) > MAX_CHARS for t in request.texts):
            raise HTTPException(422, f"every text must be non-blank and at most {MAX_CHARS} characters")
        slot.refresh()
        info, predictions = batcher.predict(slot, request.texts)
        return {"model": info, "predictions": predictions}

    return app
