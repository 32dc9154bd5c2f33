"""Issue 14: forward passes and wall time of embedding, bucketed vs per-length vs raw encode.

The project's data (data.raw_dir/data.file) and N texts (REPROSTACK_BENCH_TEXTS, default 20,000: the
project's rows plus generated texts of 6-25 words, as in bench_vectors). Same model, batch 64, 2 torch threads, each
way run twice in alternating order (min taken):
- raw: SentenceTransformer.encode (sorts by character length, pads each batch to its longest
  text; a text's bits then depend on its batch), the baseline;
- per-length: one pass per distinct token length (the first batch-invariant scheme);
- bucketN: padded to multiples of N tokens;
- bucket8x16 (the default): bucket8 with exactly 16 rows a pass (invariant on AVX-512/AMX too).
Padded tokens are what a pass computes; their count against raw's predicts the speed whatever
the load, so it is printed beside the times. Target: the default scheme >= 1.0x raw throughput (issue 21).
Also passes per 8 random texts (what a served batch of 8 costs) and one text alone.
"""

from __future__ import annotations

import os
import random
import time

from bench_vectors import BATCH, MODEL, SEED, THREADS, make_texts

N_TEXTS = int(os.environ.get("REPROSTACK_BENCH_TEXTS", 20_000))
# The timed ways beside raw (all by default) and the rounds, alternating in order (min taken): on a
# loaded machine, fewer ways and more rounds give a steadier ratio. CPU time (both torch threads)
# is printed beside wall time: it moves far less with other jobs' load.
TIMED = tuple(filter(None, os.environ.get("REPROSTACK_BENCH_SCHEMES", "").split(","))) or None
ROUNDS = int(os.environ.get("REPROSTACK_BENCH_ROUNDS", 2))
SCHEMES = ("per-length", "bucket4", "bucket8", "bucket16", "bucket8x16")


def padding(texts: list[str], model) -> str:
    """Tokens each way computes, relative to the texts' own tokens; forward passes; passes per 8
    random texts."""
    from reprostack.model import encoding

    ids = encoding.tokenize(texts, model)[0]
    lengths = [len(i) for i in ids]
    real = sum(lengths)
    by_chars = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # as sentence-transformers batches
    chunks = [by_chars[s : s + BATCH] for s in range(0, len(texts), BATCH)]
    raw = sum(max(lengths[i] for i in chunk) * len(chunk) for chunk in chunks)
    parts = [f"raw {raw / real:.3f}x tokens, {len(chunks)} passes"]
    rng = random.Random(0)
    groups = [rng.sample(range(len(ids)), 8) for _ in range(500)]
    for scheme in SCHEMES:
        widths = encoding.group(ids, scheme, model.max_seq_length)
        fixed = encoding.rows_per_pass(scheme)  # bucketNxR: short passes are filled up to R rows
        per = fixed or BATCH
        padded = sum(width * (-(-len(rows) // per) * per if fixed else len(rows)) for width, rows in widths.items())
        passes = sum(-(-len(rows) // per) for rows in widths.values())
        served = sum(len(encoding.group([ids[i] for i in g], scheme, model.max_seq_length)) for g in groups) / len(
            groups
        )
        parts.append(
            f"{scheme} {padded / real:.3f}x ({raw / padded:.2f}x fewer than raw), {passes} passes, "
            f"{served:.1f} per 8 random texts"
        )
    return "; ".join(parts)


def run():
    from common import project_texts

    from reprostack.model import embedding, encoding

    own = project_texts().texts  # first: without data, one line before the model loads
    yield f"load: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} cores), {THREADS} torch threads"
    embedding.configure_determinism(SEED, THREADS)
    model = embedding.load_encoder(embedding.resolve(MODEL))
    _, big, _ = make_texts(20_000)
    yield f"the project's data, {len(own)} texts (counted, not run): {padding(own, model)}"
    yield f"20000 texts (counted, not run): {padding(big, model)}"
    texts = big[:N_TEXTS]
    lengths = [len(ids) for ids in encoding.tokenize(texts, model)[0]]

    def raw():
        model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    timed = TIMED or SCHEMES
    ways = {"raw": raw, **{s: (lambda s=s: encoding.encode(texts, model, s, BATCH).passes) for s in timed}}
    encoding.encode(texts[:BATCH], model, encoding.DEFAULT_SCHEME, BATCH)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in ways}
    cpu: dict[str, list[float]] = {name: [] for name in ways}
    passes = {"raw": -(-len(texts) // BATCH)}
    for round_ in range(ROUNDS):
        for name in list(ways) if round_ % 2 == 0 else list(reversed(ways)):
            started, cpu_started = time.perf_counter(), time.process_time()
            passes[name] = ways[name]() or passes[name]
            times[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - cpu_started)
    yield (
        f"{N_TEXTS} texts of {min(lengths)}-{max(lengths)} tokens; forward passes: "
        + ", ".join(f"{name} {passes[name]}" for name in ways)
    )
    best = {name: min(t) for name, t in times.items()}
    best_cpu = {name: min(t) for name, t in cpu.items()}
    for name in ways:
        yield (
            f"{name}: {best[name]:.1f} s ({N_TEXTS / best[name]:.0f} texts/s), runs "
            f"{', '.join(f'{t:.1f}' for t in times[name])} s; {best['raw'] / best[name]:.2f}x raw throughput; "
            f"CPU {best_cpu[name]:.1f} s, {best_cpu['raw'] / best_cpu[name]:.2f}x raw"
        )
    default = encoding.DEFAULT_SCHEME
    if default not in ways:
        return
    ratio = best["raw"] / best[default]
    # issue 21: the fixed-row scheme (batch-invariant on AVX-512/AMX too) must not be slower than raw
    yield f"{default} (the default) vs raw: {ratio:.2f}x (target >= 1.0) {'PASS' if ratio >= 1.0 else 'FAIL'}"
    one = []
    for text in texts[:100]:
        started = time.perf_counter()
        encoding.encode([text], model, default, BATCH)
        one.append(time.perf_counter() - started)
    yield f"one text alone, {default}: median {sorted(one)[50] * 1000:.1f} ms; load now {os.getloadavg()[0]:.1f}"
