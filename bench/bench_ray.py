"""Issue 15: the Ray engine against the local engine on one machine (the same 2 cores).

1. full embed of N short texts (the project's rows plus generated 6-25 word texts, as in bench_vectors)
   into a new table: the local engine (one process, 2 torch threads) vs the Ray engine (a local
   Ray instance of 2 CPUs, one actor with 2 torch threads, fragments of embedding.ray.batch_size
   rows, one commit), Ray's start included. Target: Ray / local wall time <= 1.15.
2. `vectors migrate` of that table to a new column (same model, encoding bucket8: a new column
   identity, so a real re-embed): the local fill (a merge_insert commit per 1,024 rows) vs the
   Ray backfill (a fragment per task, one Merge commit). Reported, no target.
3. what one commit costs as fragments grow (no model): manifest bytes per fragment, the time of
   one commit and of opening the table, at 100, 1,000 and 5,000 fragments of a 384-dim table.
Parts 1-2 check that the two engines' vectors are byte-equal. Forward passes, texts/s, fragment
and commit times are printed; the README's scaling section is computed from them.

REPROSTACK_BENCH_RAY_TEXTS=n sets N (default 200,000: ~10 min per engine and part on 2 idle cores;
20,000 is a quick run).
"""

from __future__ import annotations

import functools
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench_vectors import MODEL, SEED, THREADS, make_texts

N_TEXTS = int(os.environ.get("REPROSTACK_BENCH_RAY_TEXTS", 200_000))
BATCH = 64  # embedding.batch_size in conf/embedding/minilm.yaml
TARGET = 1.15
FRAGMENT_COUNTS = (100, 1_000, 5_000)


def _encoder_factory(resolved, scheme: str):
    from reprostack.model import embedding

    return functools.partial(embedding.lazy_encoder, resolved, "cpu", BATCH, True, SEED, THREADS, scheme=scheme)


def _column_bytes(uri: str, column: str) -> bytes:
    from reprostack.vectors import lance_table

    table = lance_table.dataset(uri, "t").to_table(columns=["id", column]).sort_by("id")
    return lance_table.vectors_of(table, column).tobytes()


def _rate(n: int, seconds: float) -> str:
    return f"{seconds:.1f} s ({n / seconds:.0f} texts/s)"


def _manifest_bytes(table: Path) -> int:
    return max((table / "_versions").glob("*.manifest"), key=lambda p: p.stat().st_mtime).stat().st_size


def commit_costs(root: Path):
    """Part 3: one table of k fragments (4 rows each), then one commit (a metadata update)."""
    import lance
    import numpy as np
    import pyarrow as pa

    for k in FRAGMENT_COUNTS:
        path = root / f"fragments-{k}.lance"
        vectors = np.random.default_rng(0).normal(size=(4 * k, 384)).astype(np.float32)
        rows = pa.table(
            {
                "id": [str(i) for i in range(4 * k)],
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), 384),
            }
        )
        data = lance.write_dataset(rows, path, max_rows_per_file=4)
        size = _manifest_bytes(path)
        started = time.perf_counter()
        data.update_schema_metadata({"bench": "1"})
        commit = time.perf_counter() - started
        started = time.perf_counter()
        lance.dataset(str(path)).count_rows()
        opened = time.perf_counter() - started
        yield (
            f"{k} fragments: manifest {size / 1024:.0f} KiB ({size / k:.0f} B per fragment); one commit "
            f"{commit * 1000:.0f} ms, open + count {opened * 1000:.0f} ms"
        )
        shutil.rmtree(path)


def run():
    from reprostack.cluster import backfill, encode
    from reprostack.core.params import RayParams
    from reprostack.model import embedding
    from reprostack.vectors import lance_table, migrate, update

    yield (
        f"load: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} cores); {N_TEXTS} texts, {THREADS} "
        f"torch threads, batch {BATCH}, bucket16"
    )
    resolved = embedding.resolve(MODEL)
    fingerprint = embedding.fingerprint(resolved.path)
    ids, texts, labels = make_texts(N_TEXTS)
    ray_params = RayParams()  # a local instance, 1 actor of 1 CPU per node, blocks of 1,024 rows
    root = Path(tempfile.mkdtemp(prefix="reprostack-bench-ray-"))
    try:
        # ---- 1. full embed ----
        local = embedding.lazy_encoder(resolved, "cpu", BATCH, True, SEED, THREADS, scheme="bucket16")
        started = time.perf_counter()
        update.update(
            str(root / "local"), "t", ids, texts, labels, MODEL, fingerprint, True, local, "s", encoding="bucket16"
        )
        t_local = time.perf_counter() - started
        yield f"local engine: {_rate(N_TEXTS, t_local)}, {local.passes} forward passes (model load included)"
        started = time.perf_counter()
        with encode.RayEncoder(_encoder_factory(resolved, "bucket16"), ray_params, THREADS) as ray:
            ray.connect()
            t_start = time.perf_counter() - started
            update.update(
                str(root / "ray"), "t", ids, texts, labels, MODEL, fingerprint, True, ray, "s", encoding="bucket16"
            )
        t_ray = time.perf_counter() - started
        fragments = len(lance_table.dataset(str(root / "ray"), "t").get_fragments())
        yield (
            f"ray engine: {_rate(N_TEXTS, t_ray)}, {ray.passes} forward passes, {fragments} fragments, one commit; "
            f"Ray start {t_start:.1f} s, encode+write {_rate(N_TEXTS, t_ray - t_start)}"
        )
        same = _column_bytes(str(root / "local"), "vector") == _column_bytes(str(root / "ray"), "vector")
        ratio = t_ray / t_local
        yield f"ray / local: {ratio:.3f} (target <= {TARGET}) {'PASS' if ratio <= TARGET else 'FAIL'}; byte-equal: {same}"

        # ---- 2. migration backfill, from copies of the Ray-built table (its fragments) ----
        for name in ("mig-local", "mig-ray"):
            shutil.copytree(root / "ray", root / name)
        local = embedding.lazy_encoder(resolved, "cpu", BATCH, True, SEED, THREADS, scheme="bucket8")
        a = migrate.migrate(
            str(root / "mig-local"),
            "t",
            MODEL,
            fingerprint,
            True,
            local,
            batch_size=1024,
            report_dir=root / "reports-local",
            encoding="bucket8",
        )
        yield (
            f"migrate, local fill: {_rate(N_TEXTS, a['embed_seconds'])}, {local.passes - 1} forward passes, "
            f"{-(-N_TEXTS // 1024)} commits"
        )

        def on_ray(uri, name, column, journal):
            return backfill.backfill(
                uri,
                name,
                column,
                _encoder_factory(resolved, "bucket8"),
                ray_params,
                THREADS,
                ray_params.batch_size,
                journal_path=journal,
            )

        b = migrate.migrate(
            str(root / "mig-ray"),
            "t",
            MODEL,
            fingerprint,
            True,
            local,
            batch_size=1024,
            report_dir=root / "reports-ray",
            encoding="bucket8",
            backfill=on_ray,
        )
        per_fragment = b["fragment_seconds"]
        yield (
            f"migrate, ray backfill: {_rate(N_TEXTS, b['embed_seconds'])} ({b['backfill_seconds']:.1f} s on the "
            f"cluster, Ray start included), {b['passes']} forward passes, {b['fragments']} fragments on "
            f"{b['actors']} actor(s): median {statistics.median(per_fragment):.2f} s per fragment "
            f"({b['rows_embedded'] / sum(per_fragment):.0f} texts/s per actor); one Merge commit "
            f"{b['commit_seconds'] * 1000:.0f} ms"
        )
        same = _column_bytes(str(root / "mig-local"), a["to_column"]) == _column_bytes(
            str(root / "mig-ray"), b["to_column"]
        )
        yield (
            f"migrate ray / local: {b['embed_seconds'] / a['embed_seconds']:.3f}; byte-equal: {same}; "
            f"load now {os.getloadavg()[0]:.1f}"
        )
        size = _manifest_bytes(root / "mig-ray" / "t.lance")
        yield f"after the backfill: manifest {size} B, {size / b['fragments']:.0f} B per fragment (2 data files each)"
        yield from commit_costs(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
