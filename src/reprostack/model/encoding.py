"""Batch-invariant encoding: a text's vector never depends on what else is in its forward pass.

sentence-transformers pads each batch to its longest text, and the padded width changes the last
bits of every vector in it (other matrix shapes, other kernel blocking). Two schemes keep a
text's bits fixed:

- "per-length" (the first scheme, kept so tables and models made with it stay reproducible):
  one forward pass per distinct token length, so nothing is ever padded. Texts of different
  lengths never share a pass: a served batch of 8 texts of 8 lengths costs 8 passes.
- "bucketN" (e.g. "bucket8", the default): every text is padded, with its attention mask, to
  the next multiple of N tokens (capped at the model's limit). The width of a pass is then a
  function of the text alone, so texts of lengths 9-16 share one pass whatever their mix, and
  a text's vector is the same alone or beside 255 others.

- "bucketNxR" (e.g. "bucket8x16", the default): bucketN, and every pass holds exactly R rows
  (a short chunk is filled up with copies of its first text). Padding the width alone is not
  enough on every CPU: on an AVX-512/AMX Xeon (torch 2.13, 2 threads) the GEMM kernels pick
  another blocking for another number of rows, so a text's bucket8 vector changed with the number
  of texts beside it in its pass. With R fixed, every pass of a given width has one shape
  (R x width), whatever the batch, so the kernels and their reduction order are the same for
  every pass of that width; which row a text takes in the pass does not matter (measured: 0 of
  305 vectors differed on that Xeon, where bucket8 differed). Bits still depend on the machine
  and library build (another CPU may pick other kernels for the same shape): reproduce compares
  within tolerance across machines. R is part of the scheme because it is part of the shape;
  `batch_size` does not change a bucketNxR pass.

The step is a trade between padding and sharing. A pass costs its padded tokens (the linear
layers are ~3/4 of the time), and raw `SentenceTransformer.encode` pads each batch to its
longest text after sorting by characters, ~1.31x the texts' own tokens on the sample and on
20,000 short texts. bucket16 pads 1.31-1.49x (no faster than raw: the slowness measured in
issue 14), bucket8 1.16-1.20x, bucket4 1.07-1.08x. Finer steps split a served batch into more
passes, each topped up to MIN_TOKENS_PER_CALL: 8 random texts cost ~1.0-1.1x raw's tokens with
bucket8, 1.3-1.4x with bucket4 (bench/bench_encoding.py counts both). bucket8 is the default.

Either way a pass of fewer than MIN_TOKENS_PER_CALL tokens is topped up with copies of its first
text: passes under 12 tokens in all took another matmul kernel and gave other bits (measured on
2 cores). The scheme is part of a vector column's identity and of the params hash, so a table
embedded one way is never extended the other way.

The backend (model/backends.py: torch, or the model exported to ONNX and run by ONNX Runtime or
OpenVINO) runs the same passes of the same shapes, so every scheme keeps its guarantee on each;
an exported model's passes go through `model.run_pass` (numpy in, numpy out, no torch).

Texts longer than the model's limit (max_seq_length, 256 tokens for MiniLM) are truncated by the
tokenizer, the same way in the embed stage, search, predict and serve; `Encoded.truncated` says
which, so callers can count and report them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reprostack.core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from sentence_transformers import SentenceTransformer

DEFAULT_SCHEME = "bucket8x16"
LEGACY_SCHEME = "per-length"  # what tables and registry entries without a recorded scheme used
MIN_TOKENS_PER_CALL = 64
_BUCKET_RE = re.compile(r"^bucket([1-9][0-9]{0,3})(?:x([1-9][0-9]{0,3}))?$")


@dataclass
class Encoded:
    vectors: np.ndarray  # float32 (n, dim)
    truncated: list[bool] = field(default_factory=list)  # per text: cut at the model's token limit
    passes: int = 0  # forward passes run


def check_scheme(scheme: str) -> str:
    if scheme != LEGACY_SCHEME and not _BUCKET_RE.match(str(scheme)):
        raise ConfigError(
            f"embedding.encoding must be {LEGACY_SCHEME!r}, 'bucketN' or 'bucketNxR' (e.g. {DEFAULT_SCHEME!r}), "
            f"got {scheme!r}; fix it in conf/embedding/"
        )
    return scheme


def bucket_width(length: int, step: int, limit: int | None) -> int:
    """The padded width of a text of `length` tokens: a function of the text alone."""
    width = -(-length // step) * step
    return min(width, limit) if limit else width


def tokenize(texts: Sequence[str], model: SentenceTransformer) -> tuple[list[list[int]], list[bool]]:
    """Token ids of each text, truncated at the model's limit, and whether it was truncated.

    One tokenizer call: the fast tokenizer's overflow rows say which texts went over the limit.
    """
    limit = model.max_seq_length
    if limit is None:
        ids = model.tokenizer(list(texts), truncation=False)["input_ids"]
        return ids, [False] * len(ids)
    encoded = model.tokenizer(list(texts), truncation=True, max_length=limit, return_overflowing_tokens=True, stride=0)
    mapping = encoded.get("overflow_to_sample_mapping")
    if mapping is None:  # a slow tokenizer has no overflow rows: ask again without truncation
        ids = encoded["input_ids"]
        full = model.tokenizer(list(texts), truncation=False)["input_ids"]
        return ids, [len(f) > len(i) for f, i in zip(full, ids)]
    ids: list[list[int]] = [[] for _ in texts]
    truncated = [False] * len(texts)
    seen = set()
    for row, sample in enumerate(mapping):
        if sample in seen:
            truncated[sample] = True
        else:
            seen.add(sample)
            ids[sample] = encoded["input_ids"][row]
    return ids, truncated


def _step(scheme: str) -> int | None:
    return int(_BUCKET_RE.match(scheme).group(1)) if scheme != LEGACY_SCHEME else None


def rows_per_pass(scheme: str) -> int | None:
    """R of a bucketNxR scheme: every pass holds exactly R rows. None: passes of up to batch_size."""
    match = _BUCKET_RE.match(scheme) if scheme != LEGACY_SCHEME else None
    return int(match.group(2)) if match and match.group(2) else None


def widths(ids: list[list[int]], scheme: str, limit: int | None) -> list[int]:
    """Each text's pass width: its padded width (bucket schemes) or its own length (per-length)."""
    step = _step(scheme)
    return [bucket_width(len(tokens), step, limit) if step else len(tokens) for tokens in ids]


def group(ids: list[list[int]], scheme: str, limit: int | None) -> dict[int, list[int]]:
    """Padded width -> indices of the texts that share passes of that width."""
    groups: dict[int, list[int]] = {}
    for index, width in enumerate(widths(ids, scheme, limit)):
        groups.setdefault(width, []).append(index)
    return groups


def embedding_dimension(model: SentenceTransformer) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def count_passes(texts: Sequence[str], model: SentenceTransformer, scheme: str, batch_size: int) -> int:
    """How many forward passes encode() would run (tokenizes only)."""
    groups = group(tokenize(texts, model)[0], check_scheme(scheme), model.max_seq_length)
    per_pass = rows_per_pass(scheme) or batch_size
    return sum(-(-len(indices) // per_pass) for indices in groups.values())


def encode(
    texts: Sequence[str],
    model: SentenceTransformer,
    scheme: str = DEFAULT_SCHEME,
    batch_size: int = 64,
    normalize: bool = True,
    progress=None,
) -> Encoded:
    """Encode texts into float32 vectors with `scheme`; `progress` is an optional tqdm-like bar."""
    import numpy as np

    check_scheme(scheme)
    texts = list(texts)
    out = np.empty((len(texts), embedding_dimension(model)), dtype=np.float32)
    if not texts:
        return Encoded(out, [], 0)
    ids, truncated = tokenize(texts, model)
    step, fixed = _step(scheme), rows_per_pass(scheme)
    per_pass = fixed or batch_size
    passes = 0
    for width, indices in sorted(group(ids, scheme, model.max_seq_length).items()):
        for start in range(0, len(indices), per_pass):
            chunk = indices[start : start + per_pass]
            least = fixed or -(-MIN_TOKENS_PER_CALL // width)  # bucketNxR: exactly R rows, one shape per width
            rows = chunk + chunk[:1] * max(0, least - len(chunk))
            if step or hasattr(model, "run_pass"):  # an exported model's per-length pass: unpadded
                vectors = _forward(model, [ids[i] for i in rows], width, normalize)
            else:  # per-length: unpadded, through sentence-transformers as the first scheme did
                vectors = model.encode(
                    [texts[i] for i in rows],
                    batch_size=len(rows),
                    normalize_embeddings=normalize,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            out[chunk] = vectors[: len(chunk)]
            passes += 1
            if progress is not None:
                progress.update(len(chunk))
    return Encoded(out, truncated, passes)


def _forward(model: SentenceTransformer, rows: list[list[int]], width: int, normalize: bool) -> np.ndarray:
    """One forward pass of token id rows padded to `width`, with the mask that hides the padding."""
    if hasattr(model, "run_pass"):  # an exported model (model/backends.py): no torch here
        return _forward_exported(model, rows, width, normalize)
    import torch

    pad = model.tokenizer.pad_token_id or 0
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, tokens in enumerate(rows):
        input_ids[r, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[r, : len(tokens)] = 1
    features = {"input_ids": input_ids, "attention_mask": mask}
    if "token_type_ids" in model.tokenizer.model_input_names:
        features["token_type_ids"] = torch.zeros_like(input_ids)
    device = model.device
    features = {k: v.to(device) for k, v in features.items()}
    with torch.inference_mode():
        embeddings = model.forward(features)["sentence_embedding"]
        if normalize:
            embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=1)
    return embeddings.float().cpu().numpy()


def _forward_exported(model, rows: list[list[int]], width: int, normalize: bool) -> np.ndarray:
    import numpy as np

    pad = model.tokenizer.pad_token_id or 0
    input_ids = np.full((len(rows), width), pad, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, tokens in enumerate(rows):
        input_ids[r, : len(tokens)] = tokens
        mask[r, : len(tokens)] = 1
    out = model.run_pass({"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)})
    if normalize:  # as torch.nn.functional.normalize: x / max(||x||, 1e-12)
        out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), np.float32(1e-12))
    return out.astype(np.float32, copy=False)
