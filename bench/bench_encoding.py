"""Issue 14: forward passes and wall time of embedding, bucketed vs per-length vs raw encode.

The sample data (650 rows) and N texts (REPROSTACK_BENCH_TEXTS, default 20,000: the sample plus
generated texts of 6-25 words, as in bench_vectors). Three ways, same model, batch 64, 2 torch
threads, each run twice in alternating order (min taken):
- raw: SentenceTransformer.encode (sorts by length, pads each batch to its longest text; a
  text's bits then depend on its batch), the baseline;
- per-length: one pass per distinct token length (the first batch-invariant scheme);
- bucket16: padded to multiples of 16 tokens (the default scheme).
Target: bucket16 throughput >= 1.2x raw. Also the cost of one text alone (serving at 1 client).
"""

from __future__ import annotations

import os
import time

from bench_vectors import BATCH, MODEL, SEED, THREADS, make_texts

N_TEXTS = int(os.environ.get("REPROSTACK_BENCH_TEXTS", 20_000))


def run():
    from common import REPO

    from reprostack.data import dataset
    from reprostack.model import embedding, encoding

    yield f"load: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} cores), {THREADS} torch threads"
    embedding.configure_determinism(SEED, THREADS)
    model = embedding.load_encoder(embedding.resolve(MODEL))
    sample = dataset.read_text_table(REPO / "data" / "raw" / "texts.csv", "id", "text", "label").texts
    _, big, _ = make_texts(20_000)
    lengths = [len(ids) for ids in encoding.tokenize(big, model)[0]]
    yield (f"20000 texts of {min(lengths)}-{max(lengths)} tokens; forward passes (counted, not run): raw "
           f"{-(-len(big) // BATCH)}, " + ", ".join(f"{scheme} {encoding.count_passes(big, model, scheme, BATCH)}"
                                                  for scheme in ("per-length", "bucket8", "bucket16")))
    texts = big[:N_TEXTS]
    lengths = [len(ids) for ids in encoding.tokenize(sample, model)[0]]
    passes = {scheme: encoding.encode(sample, model, scheme, BATCH).passes for scheme in ("per-length", "bucket16")}
    yield (f"sample: {len(sample)} texts of {min(lengths)}-{max(lengths)} tokens; forward passes: raw "
           f"{-(-len(sample) // BATCH)}, per-length {passes['per-length']}, bucket16 {passes['bucket16']}")
    lengths = [len(ids) for ids in encoding.tokenize(texts, model)[0]]

    def raw():
        model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    ways = {"raw": raw,
            "per-length": lambda: encoding.encode(texts, model, "per-length", BATCH).passes,
            "bucket8": lambda: encoding.encode(texts, model, "bucket8", BATCH).passes,
            "bucket16": lambda: encoding.encode(texts, model, "bucket16", BATCH).passes}
    encoding.encode(texts[:BATCH], model, "bucket16", BATCH)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in ways}
    passes = {"raw": -(-len(texts) // BATCH)}
    for order in (list(ways), list(reversed(ways))):
        for name in order:
            started = time.perf_counter()
            passes[name] = ways[name]() or passes[name]
            times[name].append(time.perf_counter() - started)
    yield (f"{N_TEXTS} texts of {min(lengths)}-{max(lengths)} tokens; forward passes: raw {passes['raw']}, "
           f"per-length {passes['per-length']}, bucket8 {passes['bucket8']}, bucket16 {passes['bucket16']}")
    best = {name: min(t) for name, t in times.items()}
    for name in ways:
        yield (f"{name}: {best[name]:.1f} s ({N_TEXTS / best[name]:.0f} texts/s), runs "
               f"{', '.join(f'{t:.1f}' for t in times[name])} s; {best['raw'] / best[name]:.2f}x raw throughput")
    ratio = best["raw"] / best["bucket16"]
    yield f"bucket16 vs raw: {ratio:.2f}x (target >= 1.2) {'PASS' if ratio >= 1.2 else 'FAIL'}"
    one = []
    for text in texts[:100]:
        started = time.perf_counter()
        encoding.encode([text], model, "bucket16", BATCH)
        one.append(time.perf_counter() - started)
    yield f"one text alone, bucket16: median {sorted(one)[50] * 1000:.1f} ms; load now {os.getloadavg()[0]:.1f}"
