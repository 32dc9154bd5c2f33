"""Issue 25: embed throughput on each embedding.backend against raw torch `encode`.

N texts (REPROSTACK_BENCH_TEXTS, default 20,000: the project's rows plus generated texts of 6-25
words, as in bench_vectors), the project's model, batch 64, 2 threads. Baseline: raw
SentenceTransformer.encode at batch 64 (pads each batch to its longest text; not batch
invariant). Each backend runs what the embed stage runs (model.embedding.LazyEncoder with the
default scheme, bucket8x16); model loads (and the one-time export) are timed apart. All in one
process, interleaved in chunks of 500 texts with the order rotated, so each ratio is measured
under the same load. Bit-stability: 64 texts alone vs inside shuffled batches of
1-200 texts, per backend. openvino-bf16 is measured where the CPU computes bfloat16 natively;
the fastest bit-stable f32 backend is what conf/embedding/ defaults to (bf16 refuses to run on
CPUs without it, so a teammate's machine could not rebuild the default table).
Target: fastest bit-stable backend >= 1.5x raw throughput.
"""

from __future__ import annotations

import os
import random
import time

from bench_vectors import BATCH, MODEL, SEED, THREADS, make_texts

N_TEXTS = int(os.environ.get("REPROSTACK_BENCH_TEXTS", 20_000))
CHUNK = 500
BACKENDS = ("torch", "onnx", "openvino", "openvino-bf16")


def stable(encoder, texts: list[str]) -> bool:
    """Every text's vector alone equals its vector inside random batches, byte for byte."""
    rng = random.Random(7)
    probe = texts[:64]
    alone = [encoder([t])[0].tobytes() for t in probe]
    for _ in range(3):
        picked = [rng.randrange(len(probe)) for _ in range(rng.randint(1, 200))]
        vectors = encoder([probe[i] for i in picked])
        if any(vectors[row].tobytes() != alone[i] for row, i in enumerate(picked)):
            return False
    return True


def run():
    from reprostack.core import extras
    from reprostack.model import backends, embedding

    yield f"load: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} cores), {THREADS} threads"
    embedding.configure_determinism(SEED, THREADS)
    resolved = embedding.resolve(MODEL)
    _, texts, _ = make_texts(max(N_TEXTS, 64))
    texts = texts[:N_TEXTS]
    model = embedding.load_encoder(resolved)
    available = [b for b in BACKENDS if b == "torch" or not extras.missing(backends.EXTRA[b])]
    if "openvino-bf16" in available and not backends.has_bf16(backends._openvino().Core()):
        available.remove("openvino-bf16")
        yield "openvino-bf16 not measured: this CPU has no bfloat16 instructions (AVX512_BF16 or AMX)"
    for backend in available[1:]:  # the one-time export, outside the timings
        started = time.perf_counter()
        embedding.load_encoder(resolved, backend=backend, threads=THREADS)
        yield f"{backend}: export or cached export + load {time.perf_counter() - started:.1f} s"
    skipped = sorted({backends.EXTRA[b] for b in BACKENDS if b != "torch" and extras.missing(backends.EXTRA[b])})
    if skipped:
        yield f"not installed, not measured: {', '.join(skipped)} (pip install 'reprostack[{','.join(skipped)}]')"

    encoders = {"raw": None}
    for backend in available:
        encoders[backend] = embedding.lazy_encoder(resolved, "cpu", BATCH, True, SEED, THREADS, backend=backend)
        encoders[backend](texts[:BATCH])  # loads the model (and warms up) outside the timings

    def raw(chunk: list[str]) -> None:
        model.encode(chunk, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    model.encode(texts[:BATCH], batch_size=BATCH, show_progress_bar=False)  # warm-up
    # Interleaved: chunks of CHUNK texts, each way in turn, the order rotated per chunk, so every
    # way sees the same load (on a machine shared with other jobs the load swings by 2x in minutes).
    ways = list(encoders)
    seconds = dict.fromkeys(ways, 0.0)
    for n, start in enumerate(range(0, len(texts), CHUNK)):
        chunk = texts[start : start + CHUNK]
        for name in ways[n % len(ways) :] + ways[: n % len(ways)]:
            started = time.perf_counter()
            raw(chunk) if name == "raw" else encoders[name](chunk)
            seconds[name] += time.perf_counter() - started
        if (n + 1) % 8 == 0 and start + CHUNK < len(texts):  # a long run under load says something as it goes
            done = start + len(chunk)
            yield (
                f"after {done} texts: "
                + ", ".join(f"{b} {seconds['raw'] / seconds[b]:.2f}x raw" for b in available)
                + f"; load {os.getloadavg()[0]:.1f}"
            )
    yield f"raw torch encode, batch {BATCH}: {seconds['raw']:.1f} s, {N_TEXTS / seconds['raw']:.0f} texts/s"
    bits = {backend: stable(encoders[backend], texts) for backend in available}
    for backend in available:
        yield (
            f"{backend} (the embed stage's path, bucket8x16): {seconds[backend]:.1f} s, "
            f"{N_TEXTS / seconds[backend]:.0f} texts/s, {seconds['raw'] / seconds[backend]:.2f}x raw; "
            f"bit-stable across batches: {'yes' if bits[backend] else 'NO'}"
        )
    candidates = [b for b in available if bits[b]]
    if candidates:
        fastest = min(candidates, key=seconds.get)
        ratio = seconds["raw"] / seconds[fastest]
        from common import project_params

        default = project_params().embedding.backend
        yield (
            f"fastest bit-stable backend: {fastest}, {ratio:.2f}x raw (target >= 1.5) "
            f"{'PASS' if ratio >= 1.5 else 'FAIL'}; conf/embedding/ default: {default}"
            + ("" if default == fastest else " (differs: see model/backends.py)")
        )
    yield f"load now {os.getloadavg()[0]:.1f}"
