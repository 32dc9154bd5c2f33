"""POST /search: the nearest rows of the project's vector table to a query text, answered with
the encoder the server already holds, so `reprostack vectors search` against a running serve
takes milliseconds instead of a model load.

By default it reads the table at the version the served model was trained on (its registry
entry's vectors tag); `ref` may name another version, a tag, or "latest". The query is encoded by
the served model's encoder only if the column was embedded by exactly that encoder (model,
weights, normalisation, encoding scheme, backend): otherwise 409, and the CLI loads the column's
own model instead. Rows and distances are what the local search gives (same code, vectors/search.py).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from reprostack.core.errors import ReprostackError
from reprostack.registry import catalog, loader
from reprostack.serving.slot import ModelSlot


class SearchRequest(BaseModel):
    text: str
    k: int = 5
    where: str | None = None
    column: str | None = None
    ref: str | None = None  # "latest", a version number or a tag; default: the served model's version
    table: str | None = None


def column_identity(info: dict) -> tuple:
    from reprostack.vectors import lance_table

    return (
        info["model"],
        info["fingerprint"],
        info["normalize"],
        lance_table.column_encoding(info),
        lance_table.column_backend(info),
    )


def model_identity(embedding: dict) -> tuple:
    return (
        embedding.get("model"),
        embedding.get("fingerprint"),
        bool(embedding.get("normalize", True)),
        embedding.get("encoding", "per-length"),
        embedding.get("backend", "torch"),
    )


def router(slot: ModelSlot, root: str | Path) -> APIRouter:
    root = Path(root)
    routes = APIRouter()
    encode_lock = threading.Lock()  # one query at a time on the encoder beside the batcher's thread
    threading.Thread(target=_warm, daemon=True).start()  # lancedb takes seconds to import

    def run(request: SearchRequest, model: loader.LoadedModel) -> dict:
        from reprostack.core import config
        from reprostack.vectors import lance_table, search

        emb = config.load_params(root / config.PARAMS_FILE).embedding
        uri = emb.uri if "://" in emb.uri or Path(emb.uri).is_absolute() else str(root / emb.uri)
        ref, name = request.ref, request.table or emb.table
        if ref is None:  # the table as the served model was trained on it
            entry = loader.select_entry(catalog.read(root), model.name, version=model.version)
            vectors = entry.get("vectors") or {}
            ref, name = vectors.get("tag") or vectors.get("version"), request.table or vectors.get("table") or name
        ref = None if ref in (None, "latest") else lance_table.parse_ref(str(ref))
        table = lance_table.open_table(lance_table.connect(uri, emb.storage_options), name, ref)
        meta = lance_table.read_meta(table)
        column = request.column or meta["active_column"]
        if column not in meta["columns"]:
            raise HTTPException(404, f"no vector column {column!r}; columns: {', '.join(sorted(meta['columns']))}")
        if column_identity(meta["columns"][column]) != model_identity(model.embedding):
            raise HTTPException(
                409,
                f"column {column!r} was embedded with another encoder than {model.name} {model.version}'s "
                f"({meta['columns'][column]['model']}); search without a server to load its own model",
            )
        if request.where:
            search.check_where(table, request.where)
        with encode_lock:
            query = slot.embedder(model)([request.text])[0]
        hits = search.search(table, column, query, k=request.k, where=request.where)
        return {
            "query": request.text,
            "column": column,
            "version": table.version,
            "index_used": hits.index_used,
            "seconds": round(hits.seconds, 4),
            "results": hits.rows,
        }

    @routes.post("/search")
    async def search_route(request: SearchRequest) -> dict:
        if request.k <= 0:
            raise HTTPException(422, f"k must be a positive number of results, got {request.k}")
        if not request.text.strip():
            raise HTTPException(422, "text must be non-blank")
        if slot.stale():
            await asyncio.to_thread(slot.refresh)
        try:
            return await asyncio.to_thread(run, request, slot.current)
        except ReprostackError as exc:
            raise HTTPException(422, str(exc)) from None

    return routes


def _warm() -> None:
    import lancedb  # noqa: F401
