"""KServe v2 request parsing (JSON and the binary tensor extension) and the statistics the
protocol's extension reports; the routes are in kserve.py."""

from __future__ import annotations

import json
import math
import struct
import time


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
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"input {tensor.get('name')!r} needs a shape of non-negative integers, got {shape!r}")
    if math.prod(shape) != len(texts):
        raise ValueError(
            f"input {tensor.get('name')!r} has shape {shape} ({math.prod(shape)} elements) but {len(texts)} data"
        )
    return header, texts


class Stats:
    """What the statistics extension reports: successes and failures, counts and nanoseconds."""

    def __init__(self) -> None:
        self.success = [0, 0]
        self.fail = [0, 0]
        self.executions = 0
        self.last = 0  # ms since the epoch

    def record(self, ok: bool, started_ns: int) -> None:
        bucket = self.success if ok else self.fail
        bucket[0] += 1
        bucket[1] += time.monotonic_ns() - started_ns
        self.executions += ok
        self.last = int(time.time() * 1000)

    def to_json(self, name: str, version: str) -> dict:
        zero = {"count": 0, "ns": 0}
        return {
            "name": name,
            "version": version,
            "last_inference": self.last,
            "inference_count": self.success[0],
            "execution_count": self.executions,
            "inference_stats": {
                "success": {"count": self.success[0], "ns": self.success[1]},
                "fail": {"count": self.fail[0], "ns": self.fail[1]},
                "queue": zero,
                "compute_input": zero,
                "compute_infer": zero,
                "compute_output": zero,
            },
            "batch_stats": [],
        }
