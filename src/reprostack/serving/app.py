"""The HTTP app: POST /predict, GET /model, /health, /metrics, and the KServe v2 routes.

Handlers are async and never run the model themselves: they validate, hand the texts to the
batcher (one inference thread owns the model) and await the answer. A request body over the
size limit is refused with 413 before it is read in full; a full queue gives 503 with
Retry-After. Every response is what the same texts get alone: the encoding and the classifier
are applied per text (see model/encoding.py, LoadedModel.classify).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from reprostack.core.config import ServeParams
from reprostack.registry import loader
from reprostack.serving import kserve, search
from reprostack.serving.batcher import Batcher, Overloaded
from reprostack.serving.metrics import CONTENT_TYPE_LATEST, Metrics
from reprostack.serving.slot import ModelSlot

MAX_TEXTS = 256
MAX_CHARS = 10_000


class PredictRequest(BaseModel):
    texts: list[str]


def check_texts(texts: list[str]) -> None:
    if not texts or len(texts) > MAX_TEXTS:
        raise HTTPException(422, f"texts must hold 1 to {MAX_TEXTS} strings")
    if any(not isinstance(t, str) or not t.strip() or len(t) > MAX_CHARS for t in texts):
        raise HTTPException(422, f"every text must be non-blank and at most {MAX_CHARS} characters")


class _TooLarge(Exception):
    pass


class Guard:
    """ASGI middleware: the body size limit (413) and the request metrics, for every route."""

    def __init__(self, app, metrics: Metrics, max_body: int) -> None:
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = [500]
        declared = dict(scope["headers"]).get(b"content-length")
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise _TooLarge
            return message

        async def tracked_send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if declared is not None and declared.isdigit() and int(declared) > self.max_body:
                raise _TooLarge
            await self.app(scope, limited_receive, tracked_send)
        except _TooLarge:
            status[0] = 413
            await JSONResponse({"detail": f"request body over {self.max_body} bytes"}, 413)(scope, receive, send)
        finally:
            route = scope.get("route")
            self.metrics.observe(getattr(route, "path", "other"), scope["method"], status[0], started)


def create_app(
    root: str | Path,
    ref: str,
    embedder_factory: Callable[[dict], loader.Embedder] | None = None,
    serve: ServeParams | None = None,
) -> FastAPI:
    serve = serve or ServeParams()
    slot = ModelSlot(root, ref, embedder_factory or (lambda embedding: loader.text_embedder(embedding, root)))
    metrics = Metrics()

    def infer(texts: list[str]) -> list[tuple[dict, dict]]:
        """Runs on the inference thread: one model for the whole batch, answers per text."""
        model = slot.current
        info = model.info()
        return [(info, p) for p in model.predict(texts, slot.embedder(model))]

    def shape(texts: list[str]) -> list[tuple[int, int]] | None:
        """Each text's pass shape with the current model's encoder, where it has one."""
        shapes = getattr(slot.embedder(slot.current), "pass_shapes", None)
        return shapes(texts) if shapes else None

    batcher = Batcher(
        infer,
        serve.max_batch,
        serve.max_wait_ms / 1000,
        serve.queue_size,
        metrics.batch.observe,
        shape=shape,
        max_hold_s=serve.max_hold_ms / 1000,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.close()  # uvicorn has let in-flight requests finish; answer what is queued

    app = FastAPI(title="reprostack", version="1", lifespan=lifespan)
    app.state.slot, app.state.metrics, app.state.batcher = slot, metrics, batcher

    async def refresh() -> None:
        if slot.stale():  # loading a new version takes seconds: never on the event loop
            await asyncio.to_thread(slot.refresh)
        metrics.show_model(slot.current.info(), slot.error)

    async def predict_texts(texts: list[str]) -> tuple[dict, list[dict]]:
        await refresh()
        metrics.queue.set(batcher.pending + len(texts))
        try:
            answers = await batcher.submit(texts)
        except Overloaded as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
        finally:
            metrics.queue.set(batcher.pending)
        return answers[0][0], [p for _, p in answers]

    app.state.predict_texts = predict_texts

    @app.get("/health")
    async def health() -> dict:
        await refresh()
        return {"status": "degraded" if slot.error else "ok", "version": slot.current.version, "error": slot.error}

    @app.get("/model")
    async def model() -> dict:
        await refresh()
        return {**slot.current.info(), "reference": ref, "reload_error": slot.error}

    @app.get("/metrics")
    async def prometheus() -> Response:
        await refresh()
        metrics.queue.set(batcher.pending)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/predict")
    async def predict(request: PredictRequest) -> dict:
        check_texts(request.texts)
        info, predictions = await predict_texts(request.texts)
        return {"model": info, "predictions": predictions}

    app.include_router(kserve.router(slot, check_texts, predict_texts, refresh))
    app.include_router(search.router(slot, root))  # POST /search (serving/search.py)
    app.add_middleware(Guard, metrics=metrics, max_body=serve.max_body_bytes)
    return app
