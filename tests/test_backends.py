"""embedding.backend: the model exported once to ONNX and run by ONNX Runtime or OpenVINO keeps
the encoding scheme's batch invariance, is cached by the weights' digest, is a vector column's
identity, and a missing runtime is one line.

The fast tests export a tiny randomly initialised BERT (2 layers, 32 wide, MiniLM's tokenizer);
the slow ones the real all-MiniLM-L6-v2, compared with torch within the documented tolerance.
"""

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
from test_encoding import MINILM, check_batch_invariance, random_texts

from reprostack.core.errors import ConfigError, MissingExtraError
from reprostack.model import backends, embedding, encoding
from reprostack.vectors import lance_table, update

# The tolerance model/backends.py documents (and reproduce's float_noise default): an exported
# model's vectors differ from torch's in the last bits only.
TOLERANCE = 1e-5


def runtime(backend: str):
    return pytest.importorskip({"onnx": "onnxruntime", "openvino": "openvino"}[backend])


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("REPROSTACK_CACHE", str(tmp_path_factory.getbasetemp() / "reprostack-cache"))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """The tiny model saved as a sentence-transformers directory (what `embedding.model` names)."""
    from test_encoding import make_tiny_model

    base = tmp_path_factory.mktemp("tiny-saved")
    make_tiny_model(base / "bert").save(str(base / "model"))
    return embedding.resolve(str(base / "model"))


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_an_exported_tiny_model_is_batch_invariant_and_close_to_torch(tiny_dir, backend):
    runtime(backend)
    runtime("onnx")  # the export itself needs onnx
    model = embedding.load_encoder(tiny_dir, backend=backend, threads=2)
    assert isinstance(model, backends.ExportedEncoder) and model.max_seq_length == 100
    check_batch_invariance(model, random.Random(5), trials=4, n_texts=30)
    texts = random_texts(random.Random(6), 40)
    torch_vectors = encoding.encode(texts, embedding.load_encoder(tiny_dir), encoding.DEFAULT_SCHEME).vectors
    exported = encoding.encode(texts, model, encoding.DEFAULT_SCHEME).vectors
    assert np.abs(exported - torch_vectors).max() < TOLERANCE
    # per-length on an exported model: unpadded passes, as close
    per_length = encoding.encode(texts, model, "per-length").vectors
    assert np.abs(per_length - torch_vectors).max() < TOLERANCE


def test_the_export_is_made_once_per_weights_digest_and_recorded(tiny_dir):
    runtime("onnx")
    first = embedding.load_encoder(tiny_dir, backend="onnx")
    dest, meta = backends.exported(
        tiny_dir.path, embedding.fingerprint(tiny_dir.path), lambda: pytest.fail("re-exported")
    )
    assert meta["sha256"] == first.sha256 == first.info()["export_sha256"]
    assert meta["sha256"] == backends._sha256(dest / backends.EXPORT_FILE)
    assert first.info()["runtime"].startswith("onnxruntime ")
    assert json.loads((dest / backends.META_FILE).read_text())["dimension"] == 32
    # other weights are another export, never the cached one
    assert backends.export_key(tiny_dir.path, "0" * 64) != dest.name
    assert not list(dest.glob(".*.tmp"))  # the temp file was renamed, not left
    # what a run record gets without loading anything (a run with nothing to embed)
    described = backends.describe("onnx", tiny_dir.path, embedding.fingerprint(tiny_dir.path))
    assert described == {"name": "onnx", "export_sha256": first.sha256, "runtime": first.info()["runtime"]}
    assert backends.describe("onnx", tiny_dir.path, "0" * 64)["export_sha256"] is None  # no export for those
    assert backends.describe("torch", tiny_dir.path, "0" * 64)["export_sha256"] is None


def test_an_export_killed_midway_is_made_again_and_its_temp_file_removed(tiny_dir):
    runtime("onnx")
    dest = backends.export_dir(tiny_dir.path, embedding.fingerprint(tiny_dir.path))
    embedding.load_encoder(tiny_dir, backend="onnx")
    sha = json.loads((dest / backends.META_FILE).read_text())["sha256"]
    # as a kill between writing the model and its meta leaves it: a temp file, no meta.json
    (dest / backends.META_FILE).unlink()
    leftover = dest / f".{backends.EXPORT_FILE}.{2**22 + 4321}.tmp"  # no such pid
    leftover.write_bytes(b"half an export")
    again = embedding.load_encoder(tiny_dir, backend="onnx")
    assert again.sha256 == sha and not leftover.exists()  # the same bytes: exports are deterministic


def test_bad_backends_are_one_line_before_anything_loads(monkeypatch, tiny_dir):
    from reprostack.core import config

    with pytest.raises(ConfigError, match="embedding.backend must be one of torch, onnx, openvino"):
        backends.check_backend("tensorrt")
    with pytest.raises(ConfigError, match="runs on the CPU here, embedding.device is cuda"):
        embedding.lazy_encoder(tiny_dir, "cuda", 64, True, 0, 2, backend="onnx")
    from factories import SOURCE

    raw = config.read_params_file(SOURCE / config.PARAMS_FILE)
    raw["embedding"] = {**raw["embedding"], "backend": "onnx", "device": "cuda"}
    with pytest.raises(ConfigError, match="embedding.backend onnx runs on the CPU here"):
        config.validate(raw)
    raw["embedding"] = {**raw["embedding"], "backend": "tvm", "device": "cpu"}
    with pytest.raises(ConfigError, match="embedding.backend must be torch, onnx, openvino or openvino-bf16"):
        config.validate(raw)
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if the extra were not installed
    with pytest.raises(MissingExtraError, match=r"needs the openvino extra: pip install 'reprostack\[openvino\]'"):
        embedding.load_encoder(tiny_dir, backend="openvino")
    with pytest.raises(MissingExtraError, match=r"needs the openvino extra: pip install 'reprostack\[openvino\]'"):
        embedding.load_encoder(tiny_dir, backend="openvino-bf16")


def test_the_backend_is_part_of_a_columns_identity(tmp_path):
    """The same model, weights and scheme on another backend gets its own column: a table is
    never extended with vectors from another runtime."""
    from factories import hash_embed, labelled_rows

    ids, texts, labels = labelled_rows(20)
    uri, args = str(tmp_path / "db"), ("hashing:16", "f" * 64, True)
    first = update.update(uri, "t", ids, texts, labels, *args, hash_embed, "s1", encoding="bucket8x16")
    again = update.update(uri, "t", ids, texts, labels, *args, hash_embed, "s1", encoding="bucket8x16", backend="torch")
    assert (again.column, again.embedded) == (first.column, 0)
    onnx = update.update(uri, "t", ids, texts, labels, *args, hash_embed, "s2", encoding="bucket8x16", backend="onnx")
    assert onnx.column != first.column and onnx.embedded == len(ids)
    meta = lance_table.read_meta(lance_table.dataset(uri, "t"))
    assert {c: lance_table.column_backend(i) for c, i in meta["columns"].items()} == {
        first.column: "torch",
        onnx.column: "onnx",
    }
    assert lance_table.column_backend({}) == "torch"  # columns from before the key: torch


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_real_model_exported_matches_torch_and_is_batch_invariant(backend):
    runtime(backend)
    runtime("onnx")
    embedding.configure_determinism(seed=1, threads=2)
    resolved = embedding.resolve(MINILM)
    model = embedding.load_encoder(resolved, backend=backend, threads=2)
    check_batch_invariance(model, random.Random(3), trials=4, n_texts=40)
    texts = random_texts(random.Random(4), 200)
    torch_vectors = encoding.encode(texts, embedding.load_encoder(resolved), encoding.DEFAULT_SCHEME).vectors
    exported = encoding.encode(texts, model, encoding.DEFAULT_SCHEME).vectors
    assert np.abs(exported - torch_vectors).max() < TOLERANCE
    assert (exported * torch_vectors).sum(axis=1).min() > 1 - 1e-6


def test_openvino_loads_without_its_telemetry_and_its_converter_stays_importable(tmp_path):
    """`import openvino` alone initialises OpenVINO's telemetry (Google Analytics, on by default
    without a consent file): it forks a sender and writes ~/intel. backends._openvino skips it,
    and leaves the converter importable for whoever wants it afterwards."""
    code = (
        "import os, sys; from reprostack.model import backends; ov = backends._openvino(); ov.Core(); "
        "print('openvino_telemetry' in sys.modules, os.path.exists(os.path.expanduser('~/intel'))); "
        "import openvino.tools.ovc; print('ovc imported')"
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.splitlines()[:2] == ["False False", "ovc imported"], out.stderr
    assert "fork-safe" not in out.stderr


def test_openvino_bf16_is_batch_invariant_and_not_f32(tiny_dir):
    """bf16 keeps the scheme's guarantee (one shape per width) and really computes in bf16: its
    bits differ from f32's (so it is its own column) while staying close."""
    runtime("openvino")
    runtime("onnx")
    if not backends.has_bf16(backends._openvino().Core()):
        pytest.skip("this CPU has no bfloat16 instructions (AVX512_BF16 or AMX)")
    model = embedding.load_encoder(tiny_dir, backend="openvino-bf16", threads=2)
    check_batch_invariance(model, random.Random(5), trials=4, n_texts=30)
    texts = random_texts(random.Random(6), 40)
    bf16 = encoding.encode(texts, model).vectors
    f32 = encoding.encode(texts, embedding.load_encoder(tiny_dir, backend="openvino", threads=2)).vectors
    assert bf16.tobytes() != f32.tobytes() and (bf16 * f32).sum(axis=1).min() > 0.99


def test_openvino_bf16_on_a_cpu_without_it_is_one_line_naming_the_fix(tiny_dir, monkeypatch):
    runtime("openvino")
    runtime("onnx")
    monkeypatch.setattr(backends, "has_bf16", lambda core: False)
    with pytest.raises(ConfigError) as caught:
        embedding.load_encoder(tiny_dir, backend="openvino-bf16", threads=2)
    message = str(caught.value)
    assert "\n" not in message and "AVX512_BF16 or AMX" in message and "embedding.backend: openvino" in message
    # the fix it names works
    assert isinstance(embedding.load_encoder(tiny_dir, backend="openvino", threads=2), backends.ExportedEncoder)


def test_an_exported_backend_embeds_without_importing_torch_or_transformers(tiny_dir):
    """Once the export exists, embedding on it needs neither (1.3 s a process): the tokenizer comes
    from tokenizer.json (model/tokenizer.py), and the run record's compute names the runtime."""
    runtime("openvino")
    runtime("onnx")
    embedding.load_encoder(tiny_dir, backend="openvino", threads=2)  # the export, made here if need be
    code = (
        "import json, sys; from pathlib import Path; from reprostack.model import embedding; "
        "from reprostack.runs import environment; "
        f"resolved = embedding.resolve({str(tiny_dir.path)!r}); "
        "encode = embedding.lazy_encoder(resolved, 'cpu', 64, True, 0, 2, backend='openvino'); "
        "vectors = encode(['a text', 'another one']); "
        "print(json.dumps([vectors.shape[0], sorted(m for m in ('torch', 'transformers') if m in sys.modules), "
        "environment.compute(2, loaded_only=True, backend='openvino')]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=dict(os.environ))
    rows, imported, compute = json.loads(out.stdout.strip().splitlines()[-1])
    assert rows == 2 and imported == []
    assert compute["backend"] == "openvino" and compute["runtime"].startswith("openvino ") and compute["threads"] == 2
