"""Where a forward pass runs: PyTorch, or the same model exported once to ONNX and run by ONNX
Runtime (`onnx`) or OpenVINO (`openvino`).

The export is the whole sentence-transformers forward (transformer, pooling, and the model's own
Normalize module if it has one) traced by `torch.onnx.export` (TorchScript exporter, opset
OPSET, dynamic rows and width); `embedding.normalize` is applied after it, as the torch path
does. It is made offline on first use from the same local weights and kept in a cache directory
keyed by the weights' fingerprint, the model's config files, the torch version and the opset
(`export_key`), so a changed input gets a new export, never a stale one. The file is written to a
temporary name and renamed, so a killed export leaves no half-written model. Its sha256 is
recorded in meta.json and reported by the embed stage (the run record): the same inputs gave the
same bytes in every export measured here.

Batch invariance is the encoding scheme's (model/encoding.py): every pass has one shape per width
(bucketNxR), whatever the backend; measured on a 2-core AVX-512/AMX Xeon, 0 of 300 vectors differed
alone vs in batches with onnx and openvino (tests/test_backends.py). Vectors differ from torch's in
the last bits (max |diff| ~2e-7 on all-MiniLM-L6-v2, cosine 1 - 1e-7), so the backend is part of a
vector column's identity like the scheme: a table embedded one way is never extended another way.
Both run on the CPU only; OpenVINO is told to compute in f32 (on an AMX CPU it would pick bf16).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprostack.core.errors import ConfigError, ModelNotFoundError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

BACKENDS = ("torch", "onnx", "openvino", "openvino-bf16")
LEGACY_BACKEND = "torch"  # what columns and registry entries without a recorded backend used
EXPORTED = ("onnx", "openvino", "openvino-bf16")
# openvino-bf16: OpenVINO computing in bfloat16 on a CPU that has it (AVX512_BF16, AMX), ~3x its
# f32 here; vectors within ~4e-5 cosine of f32, batch-invariant like every backend, but other
# bits than f32's: another backend, so another column, and it never runs emulated elsewhere
EXTRA = {"onnx": "onnx", "openvino": "openvino", "openvino-bf16": "openvino"}
OPSET = 17
EXPORT_FILE = "model.onnx"
META_FILE = "meta.json"
_CONFIG_SUFFIXES = (".json", ".txt", ".model")  # tokenizer and module configs: they shape the graph


def check_backend(backend: str, device: str = "cpu") -> str:
    if backend not in BACKENDS:
        raise ConfigError(
            f"embedding.backend must be one of {', '.join(BACKENDS)}, got {backend!r}; fix it in conf/embedding/"
        )
    if backend in EXPORTED and device != "cpu":
        raise ConfigError(
            f"embedding.backend {backend} runs on the CPU here, embedding.device is {device}; "
            "set backend: torch for a GPU, or device: cpu"
        )
    return backend


def require(backend: str, what: str, model: str | None = None) -> None:
    """One line naming the extra when the backend's runtime is not installed (checked up front,
    before any work; the hashing stand-in runs no forward pass, so it needs none)."""
    from reprostack.core import extras
    from reprostack.model import hashing

    if backend in EXPORTED and not (model and hashing.is_hashing(model)):
        extras.require(EXTRA[backend], what)


def cache_root() -> Path:
    """REPROSTACK_CACHE, else $XDG_CACHE_HOME/reprostack, else ~/.cache/reprostack."""
    if os.environ.get("REPROSTACK_CACHE"):
        return Path(os.environ["REPROSTACK_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reprostack"


def export_key(model_dir: Path, fingerprint: str) -> str:
    from importlib.metadata import version

    # the installed torch's version without importing it (seconds): a run with nothing to embed
    # still names its export
    digest = hashlib.sha256(f"{fingerprint} torch {version('torch')} opset {OPSET}\n".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file() and p.suffix in _CONFIG_SUFFIXES):
        digest.update(
            f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(model_dir).as_posix()}\n".encode()
        )
    return digest.hexdigest()[:32]


def _sha256(path: Path) -> str:
    from reprostack.data.hashing import sha256_file

    return sha256_file(path)


class _Forward:
    """The sentence-transformers forward as a module with positional tensor inputs (what the
    exporter traces)."""

    def __new__(cls, model, names: list[str]):
        import torch

        class Forward(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *tensors):
                return self.model.forward(dict(zip(names, tensors)))["sentence_embedding"]

        return Forward().eval()


def export(model, dest: Path) -> dict:
    """Export a loaded SentenceTransformer to dest/model.onnx (+ meta.json); returns the meta."""
    import warnings

    import torch

    from reprostack.model import encoding

    names = ["input_ids", "attention_mask"] + (
        ["token_type_ids"] if "token_type_ids" in model.tokenizer.model_input_names else []
    )
    # Traced with padding in the rows, so the graph keeps the attention mask (an all-ones mask
    # may be optimised away by the attention code while tracing).
    ids = torch.full((4, 16), model.tokenizer.pad_token_id or 0, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1:, 5:] = 0
    inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    dest.mkdir(parents=True, exist_ok=True)
    _sweep(dest)
    tmp = dest / f".{EXPORT_FILE}.{os.getpid()}.tmp"
    axes = {name: {0: "rows", 1: "width"} for name in names} | {"sentence_embedding": {0: "rows"}}
    with warnings.catch_warnings():  # the tracer's notes on shape-dependent Python branches
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Forward(model, names),
            tuple(inputs[n] for n in names),
            str(tmp),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    meta = {
        "sha256": _sha256(tmp),
        "inputs": names,
        "max_seq_length": model.max_seq_length,
        "dimension": encoding.embedding_dimension(model),
        "torch": torch.__version__,
        "opset": OPSET,
    }
    os.replace(tmp, dest / EXPORT_FILE)
    _write_meta(dest, meta)
    return meta


def _sweep(dest: Path) -> None:
    """Remove the temp files of exports killed midway (their pid is gone); a live one is another
    process exporting the same model now, and its rename is atomic."""
    for path in dest.glob(".*.tmp"):
        try:
            os.kill(int(path.name.split(".")[-2]), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except (ValueError, OSError):
            pass


def _write_meta(dest: Path, meta: dict) -> None:
    tmp = dest / f".{META_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(meta, sort_keys=True, indent=2), encoding="utf-8")
    os.replace(tmp, dest / META_FILE)  # written last: its presence says the export is complete


def export_dir(model_dir: Path, fingerprint: str) -> Path:
    return cache_root() / "onnx" / export_key(model_dir, fingerprint)


def describe(backend: str, model_dir: Path, fingerprint: str) -> dict:
    """For the run record without loading anything: the backend, its runtime, and the sha256 of
    the export this machine has for these weights (None for torch, or if none was made yet)."""
    meta = export_dir(model_dir, fingerprint) / META_FILE if backend in EXPORTED else None
    sha = json.loads(meta.read_text(encoding="utf-8"))["sha256"] if meta is not None and meta.is_file() else None
    return {"name": backend, "export_sha256": sha, "runtime": runtime_version(backend)}


def exported(model_dir: Path, fingerprint: str, load_torch_model) -> tuple[Path, dict]:
    """The export's directory and meta, exporting first if this cache has none (needs torch)."""
    dest = export_dir(model_dir, fingerprint)
    if not (dest / META_FILE).is_file() or not (dest / EXPORT_FILE).is_file():
        try:
            export(load_torch_model(), dest)
        except OSError as exc:
            raise ConfigError(
                f"cannot write the ONNX export to {dest}: {exc.strerror or exc}; "
                "set REPROSTACK_CACHE to a writable directory"
            ) from None
    meta = json.loads((dest / META_FILE).read_text(encoding="utf-8"))
    return dest, meta


@dataclass
class ExportedEncoder:
    """The exported model, with the parts of a SentenceTransformer model/encoding.py uses
    (tokenizer, max_seq_length, the dimension) and `run_pass` for one forward pass."""

    backend: str
    tokenizer: Any
    max_seq_length: int | None
    dimension: int
    inputs: list[str]
    sha256: str  # of the exported model.onnx
    runner: Any
    device: str = "cpu"

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def run_pass(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """(rows, width) int64 inputs -> (rows, dim) float32 sentence embeddings."""
        import numpy as np

        feed = {name: arrays[name] for name in self.inputs}
        if self.backend == "onnx":
            out = self.runner.run(None, feed)[0]
        else:
            out = self.runner.infer(feed)[0]
        return np.asarray(out, dtype=np.float32)

    def info(self) -> dict:
        return {"name": self.backend, "export_sha256": self.sha256, "runtime": runtime_version(self.backend)}


def runtime_version(backend: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    package = {"torch": "torch", "onnx": "onnxruntime", "openvino": "openvino", "openvino-bf16": "openvino"}[backend]
    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        return f"{package} (not installed)"


def has_bf16(core) -> bool:
    """The CPU computes bfloat16 natively (OpenVINO lists BF16 only then): elsewhere the hint
    would be dropped silently and the vectors be f32's, under a bf16 column's name."""
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def _openvino():
    """openvino without its telemetry: `import openvino` imports its model converter (ovc), which
    sends usage data to Google Analytics unless ~/intel/openvino_telemetry opts out, forking a
    process to do it (Lance then warns it is not fork-safe) and writing under ~/intel: from an
    offline pipeline, on every run. The ONNX file is compiled without the converter, so its
    import is skipped (openvino's __init__ passes over an ImportError there), then allowed again."""
    import sys

    if "openvino" not in sys.modules:
        blocked = sys.modules.setdefault("openvino.tools.ovc", None) is None
        try:
            import openvino
        finally:
            if blocked and sys.modules.get("openvino.tools.ovc", 0) is None:
                del sys.modules["openvino.tools.ovc"]
        return openvino
    return sys.modules["openvino"]


def load(backend: str, model_dir: Path, fingerprint: str, load_torch_model, threads: int | None) -> ExportedEncoder:
    """The exported model on `backend`'s runtime, with the model directory's own tokenizer."""
    require(backend, f"embedding.backend {backend}")
    dest, meta = exported(model_dir, fingerprint, load_torch_model)
    path = str(dest / EXPORT_FILE)
    if backend == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        runner = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    else:
        core, precision = _openvino().Core(), "bf16" if backend == "openvino-bf16" else "f32"
        if precision == "bf16" and not has_bf16(core):
            raise ConfigError(
                "embedding.backend openvino-bf16 needs a CPU with bfloat16 instructions (AVX512_BF16 or AMX) "
                "and this one has none; set embedding.backend: openvino (f32) in conf/embedding/"
            )
        config = {"INFERENCE_PRECISION_HINT": precision, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        runner = core.compile_model(path, "CPU", config).create_infer_request()
    try:
        from reprostack.model import tokenizer as tokenizers

        tokenizer = tokenizers.load(model_dir)  # without transformers where it can: no torch import
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot load the tokenizer of {model_dir}: {exc}") from None
    return ExportedEncoder(
        backend, tokenizer, meta["max_seq_length"], meta["dimension"], meta["inputs"], meta["sha256"], runner
    )
