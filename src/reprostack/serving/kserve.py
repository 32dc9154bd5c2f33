"""The Open Inference Protocol (KServe v2) beside our own routes, so standard clients work.

Input: one BYTES tensor of texts (JSON `data`, or the binary tensor extension that tritonclient
sends by default). Outputs: `label` (BYTES), `scores` (FP32, one row per text, columns in the
order of the model's `classes` parameter) and `truncated` (BOOL: cut at the encoder's token
limit). Answers come from the same batcher as POST /predict. Errors are {"error": "..."}.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

OUTPUTS = ("label", "scores", "truncated")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def _flatten(data) -> list:
    return [x for item in data for x in _flatten(item)] if isinstance(data, list) else [data]


def _bytes_elements(raw: bytes) -> list[str]:
    """The binary BYTES layout: each element is a 4-byte little-endian length, then the bytes."""
    out, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise ValueError("truncated BYTES element length")
        (size,) = struct.unpack_from("<I", raw, offset)
        out.append(raw[offset + 4 : offset + 4 + size].decode("utf-8"))
        offset += 4 + size
    return out


def parse_texts(body: bytes, header_length: str | None) -> tuple[dict, list[str]]:
    """(the request's JSON header, its texts); ValueError with what is wrong."""
    split = int(header_length) if header_length is not None else len(body)
    try:
        header = json.loads(body[:split])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"the request header is not valid JSON ({exc})") from None
    inputs = header.get("inputs") if isinstance(header, dict) else None
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise ValueError("expected exactly one input tensor (BYTES, the texts)")
    tensor = inputs[0]
    if tensor.get("datatype") != "BYTES":
        raise ValueError(f"input {tensor.get('name')!r} must have datatype BYTES, got {tensor.get('datatype')!r}")
    size = (tensor.get("parameters") or {}).get("binary_data_size")
    if size is not None:
        texts = _bytes_elements(body[split : split + int(size)])
    elif "data" in tensor:
        texts = _flatten(tensor["data"])
    else:
        raise ValueError("input tensor has neither data nor binary_data_size")
    return header, texts


def router(
    slot, check_texts: Callable, predict_texts: Callable[[list[str]], Awaitable], refresh: Callable[[], Awaitable]
) -> APIRouter:
    api = APIRouter(prefix="/v2")

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

    @api.get("")
    async def server_metadata() -> dict:
        return {"name": "reprostack", "version": "1", "extensions": ["binary_tensor_data"]}

    @api.get("/health/live")
    async def live() -> dict:
        return {"live": True}

    @api.get("/health/ready")
    async def ready() -> dict:
        await refresh()
        return {"ready": slot.current is not None}

    @api.get("/models/{name}")
    async def model_metadata(name: str):
        await refresh()
        return metadata() if name == slot.name else _error(404, f"model {name!r} is not served here; {slot.name!r} is")

    @api.get("/models/{name}/ready")
    async def model_ready(name: str):
        return {"name": name, "ready": True} if name == slot.name else _error(404, f"model {name!r} is not served")

    @api.post("/models/{name}/infer")
    async def infer(name: str, request: Request):
        if name != slot.name:
            return _error(404, f"model {name!r} is not served here; {slot.name!r} is")
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
