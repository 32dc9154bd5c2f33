"""Issue 25: embed throughput on each embedding.backend against raw torch `encode`.

N texts (REPROSTACK_BENCH_TEXTS, default 20,000: the project's rows plus generated texts of 6-25
words, as in bench_vectors), the project's model, batch 64, 2 threads. Baseline: raw
SentenceTransformer.encode at batch 64 (pads each batch to its longest text; not batch
invariant). Each backend runs what the embed stage runs (model.embedding.LazyEncoder with the
default scheme, bucket8x16), timed from the first call including its model load (the export too
on a fresh cache; it is made beforehand here so the load is what a run pays). All in one process,
the baseline first and again last (the slower of the two is not taken: min), so each ratio is
measured under the same load. Bit-stability: 64 texts alone vs inside shuffled batches of
1-200 texts, per backend; the fastest bit-stable backend is what conf/embedding/ should default to.
Target: fastest bit-stable backend >= 1.5x raw throughput.
"""

from __future__ import annotations

import os
import random
import time

from bench_vectors import BATCH, MODEL, SEED, THREADS, make_texts

N_TEXTS = int(os.environ.get("REPROSTACK_BENCH_TEXTS", 20_000))
BACKENDS = ("torch", "onnx", "openvino")


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
    from reprostack.model import embedding

    yield f"load: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} cores), {THREADS} threads"
    embedding.configure_determinism(SEED, THREADS)
    resolved = embedding.resolve(MODEL)
    _, texts, _ = make_texts(max(N_TEXTS, 64))
    texts = texts[:N_TEXTS]
    model = embedding.load_encoder(resolved)
    available = [b for b in BACKENDS if b == "torch" or not extras.missing(b)]
    for backend in available[1:]:  # the one-time export, outside the timings
        started = time.perf_counter()
        embedding.load_encoder(resolved, backend=backend, threads=THREADS)
        yield f"{backend}: export or cached export + load {time.perf_counter() - started:.1f} s"
    skipped = [b for b in BACKENDS if b not in available]
    if skipped:
        yield f"not installed, not measured: {', '.join(skipped)} (pip install 'reprostack[{','.join(skipped)}]')"

    def raw():
        model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    model.encode(texts[:BATCH], batch_size=BATCH, show_progress_bar=False)  # warm-up
    times: dict[str, list[float]] = {"raw": []}
    bits: dict[str, bool] = {}

    def timed_raw() -> float:
        started = time.perf_counter()
        raw()
        times["raw"].append(time.perf_counter() - started)
        return times["raw"][-1]

    first = timed_raw()
    yield f"raw torch encode, batch {BATCH}: {first:.1f} s, {N_TEXTS / first:.0f} texts/s"
    for backend in available:  # each line as it is measured: a long run under load still says something
        encoder = embedding.lazy_encoder(resolved, "cpu", BATCH, True, SEED, THREADS, backend=backend)
        started = time.perf_counter()
        encoder(texts)
        times[backend] = [time.perf_counter() - started]
        bits[backend] = stable(encoder, texts)
        yield (
            f"{backend} (embed stage path, bucket8x16, load included): {times[backend][0]:.1f} s, "
            f"{N_TEXTS / times[backend][0]:.0f} texts/s, {first / times[backend][0]:.2f}x the first raw run; "
            f"bit-stable across batches: {'yes' if bits[backend] else 'NO'}; load {os.getloadavg()[0]:.1f}"
        )
    timed_raw()
    best = {name: min(t) for name, t in times.items()}
    yield f"raw again: {times['raw'][-1]:.1f} s; best raw {N_TEXTS / best['raw']:.0f} texts/s"
    yield "; ".join(f"{b} {best['raw'] / best[b]:.2f}x raw (best raw)" for b in available)
    candidates = [b for b in available if bits[b]]
    if candidates:
        fastest = min(candidates, key=best.get)
        ratio = best["raw"] / best[fastest]
        from common import project_params

        default = project_params().embedding.backend
        yield (
            f"fastest bit-stable backend: {fastest}, {ratio:.2f}x raw (target >= 1.5) "
            f"{'PASS' if ratio >= 1.5 else 'FAIL'}; conf/embedding/ default: {default}"
            + ("" if default == fastest else " (differs: see model/backends.py)")
        )
    yield f"load now {os.getloadavg()[0]:.1f}"
