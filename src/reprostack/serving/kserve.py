"""The Open Inference Protocol (KServe v2) beside our own routes, so standard clients work.

Input: one BYTES tensor of texts (JSON `data`, or the binary tensor extension that tritonclient
sends by default). Outputs: `label` (BYTES), `scores` (FP32, one row per text, columns in the
order of the model's `classes` parameter) and `truncated` (BOOL: cut at the encoder's token
limit). Answers come from the same batcher as POST /predict. Errors are {"error": "..."}.

One version is served at a time (the stage's, which a promote changes live): it is the one the
metadata lists, and every per-model route answers under /versions/<that version> too; another
version is 404, as the protocol says for a version that is not available. The extensions that
tritonclient calls are here: the model repository index, model configuration and statistics.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from reprostack.serving.tensors import Stats, parse_texts

OUTPUTS = ("label", "scores", "truncated")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def router(
    slot, check_texts: Callable, predict_texts: Callable[[list[str]], Awaitable], refresh: Callable[[], Awaitable]
) -> APIRouter:
    api = APIRouter(prefix="/v2")
    stats = Stats()

    def refused(name: str, version: str | None = None) -> JSONResponse | None:
        """None when name (and version, if given) is what is served; else the protocol's 404."""
        if name != slot.name:
            return _error(404, f"model {name!r} is not served here; {slot.name!r} is")
        current = slot.current.version if slot.current is not None else None
        if version not in (None, "", current):
            return _error(
                404, f"{name} version {version!r} is not served here; {current} is (see GET /v2/models/{name})"
            )
        return None

    def metadata() -> dict:
        model = slot.current
        classes = [str(c) for c in model.classifier.classes_]
        return {
            "name": slot.name,
            "versions": [model.version],
            "platform": "reprostack-sklearn",
            "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
            "outputs": [
                {"name": "label", "datatype": "BYTES", "shape": [-1]},
                {"name": "scores", "datatype": "FP32", "shape": [-1, len(classes)]},
                {"name": "truncated", "datatype": "BOOL", "shape": [-1]},
            ],
            "parameters": {"classes": classes, "stage": model.stage, "sha256": model.sha256},
        }

    def config() -> dict:
        meta = metadata()
        types = {"BYTES": "TYPE_STRING", "FP32": "TYPE_FP32", "BOOL": "TYPE_BOOL"}

        def tensors(items):
            return [{"name": t["name"], "data_type": types[t["datatype"]], "dims": t["shape"]} for t in items]

        return {
            "name": meta["name"],
            "platform": meta["platform"],
            "backend": "reprostack",
            "max_batch_size": 0,  # shapes carry the batch dimension themselves
            "input": tensors(meta["inputs"]),
            "output": tensors(meta["outputs"]),
            "parameters": {
                k: {"string_value": json.dumps(v) if not isinstance(v, str) else v}
                for k, v in meta["parameters"].items()
            },
        }

    @api.get("")
    async def server_metadata() -> dict:
        return {
            "name": "reprostack",
            "version": "1",
            "extensions": ["binary_tensor_data", "model_repository", "model_configuration", "statistics"],
        }

    @api.post("/repository/index")
    async def repository_index():
        await refresh()
        current = slot.current
        return [
            {
                "name": slot.name,
                "version": current.version if current else "",
                "state": "READY" if current else "UNAVAILABLE",
            }
        ]

    @api.post("/repository/models/{name}/load")
    @api.post("/repository/models/{name}/unload")
    async def model_control(name: str):
        # Triton answers 400 when model control is off; what is served here follows the registry
        return _error(
            400,
            f"model control is not enabled: this server serves {slot.name!r} at its registry stage; change "
            "it with `reprostack registry promote` or `rollback`",
        )

    @api.get("/models/stats")
    async def all_stats():
        await refresh()
        return {"model_stats": [stats.to_json(slot.name, slot.current.version)]}

    @api.get("/models/{name}/config")
    @api.get("/models/{name}/versions/{version}/config")
    async def model_config(name: str, version: str | None = None):
        await refresh()
        return refused(name, version) or config()

    @api.get("/models/{name}/stats")
    @api.get("/models/{name}/versions/{version}/stats")
    async def model_stats(name: str, version: str | None = None):
        await refresh()
        return refused(name, version) or {"model_stats": [stats.to_json(slot.name, slot.current.version)]}

    @api.get("/health/live")
    async def live() -> dict:
        return {"live": True}

    @api.get("/health/ready")
    async def ready() -> dict:
        await refresh()
        return {"ready": slot.current is not None}

    @api.get("/models/{name}")
    @api.get("/models/{name}/versions/{version}")
    async def model_metadata(name: str, version: str | None = None):
        await refresh()
        return refused(name, version) or metadata()

    @api.get("/models/{name}/ready")
    @api.get("/models/{name}/versions/{version}/ready")
    async def model_ready(name: str, version: str | None = None):
        await refresh()
        return refused(name, version) or {"name": name, "ready": True}

    @api.post("/models/{name}/infer")
    @api.post("/models/{name}/versions/{version}/infer")
    async def infer(name: str, request: Request, version: str | None = None):
        await refresh()
        no = refused(name, version)
        if no is not None:
            return no
        started = time.monotonic_ns()
        answer = await _infer(request, version)
        stats.record(not isinstance(answer, JSONResponse), started)
        return answer

    async def _infer(request: Request, version: str | None):
        try:
            header, texts = parse_texts(await request.body(), request.headers.get("inference-header-content-length"))
            wanted = [o.get("name") for o in header.get("outputs") or []] or list(OUTPUTS)
            unknown = sorted(set(wanted) - set(OUTPUTS))
            if unknown:
                raise ValueError(f"unknown output {unknown[0]!r}; outputs: {', '.join(OUTPUTS)}")
            check_texts(texts)
            info, predictions = await predict_texts(texts)
        except ValueError as exc:
            return _error(400, str(exc))
        except HTTPException as exc:
            return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)
        if version and info["version"] != version:  # a promote between the check and the answer
            return _error(404, f"{slot.name} version {version!r} is no longer served; {info['version']} is")
        n, classes = len(predictions), list(predictions[0]["scores"])
        tensors = {
            "label": {"datatype": "BYTES", "shape": [n], "data": [p["label"] for p in predictions]},
            "scores": {
                "datatype": "FP32",
                "shape": [n, len(classes)],
                "data": [p["scores"][c] for p in predictions for c in classes],
                "parameters": {"classes": ",".join(classes)},
            },
            "truncated": {"datatype": "BOOL", "shape": [n], "data": [p["truncated"] for p in predictions]},
        }
        return {
            "model_name": slot.name,
            "model_version": info["version"],
            "id": header.get("id", ""),
            "parameters": {"stage": info["stage"], "sha256": info["sha256"]},
            "outputs": [{"name": w, **tensors[w]} for w in wanted],
        }

    return api
