"""`vectors migrate` on Ray: the new vector column backfilled fragment by fragment on a cluster.

Each Lance fragment is one task for an actor pool (one model copy per actor): the actor reads
the fragment's texts at the version the migration started from and writes the new column's data
file beside the fragment's files (`LanceFragment.merge_columns`, what lance-ray's `add_columns`
runs per fragment); the driver then commits every fragment in one `LanceOperation.Merge`.
Readers see the table without the column or with every row filled, never half of it.

lance_ray.add_columns is all or nothing and cannot say which fragments are done, so the driver
checkpoints each finished fragment's metadata (intent first, cleared after the commit): a killed
migration re-run at the same table version encodes only the fragments still missing. A checkpoint
made at another version (the table changed since) is dropped; its files are orphans that
`vectors optimize` removes.

Ray is imported inside functions only.
"""

from __future__ import annotations

import base64
import json
import pickle
import time
from collections.abc import Callable
from pathlib import Path

from reprostack.cluster import pool, session
from reprostack.core import faults, jsonio
from reprostack.core.errors import ClusterError, ReprostackError, VectorStoreError
from reprostack.core.params import RayParams
from reprostack.vectors import lance_table

CHECKPOINT_EVERY_S = 2.0


class Checkpoint(jsonio.Document):
    """The finished fragments of one backfill; runs/migrations/backfill-<column>-<n>.json."""

    SCHEMA_VERSION = 1
    table: str
    column: str
    read_version: int
    fragments: dict[str, dict] = {}  # fragment id -> lance FragmentMetadata.to_json()
    schema_pickle: str = ""  # the merged LanceSchema (field ids included), as Lance pickles it


def _actor(options: dict):
    import ray

    @ray.remote(**options)
    class Filler:
        """Holds one encoder: cluster/encode.py's factory, as its actors build it (same seed and
        thread count as the local engine, so the same bits)."""

        def __init__(self, make_encoder: Callable) -> None:
            self.encode = make_encoder()

        def fill(
            self, path: str, version: int, fragment_id: int, column: str, batch_size: int, storage_options: dict | None
        ) -> tuple[str, bytes, int, float, int]:
            import lance
            import pyarrow as pa

            started = time.perf_counter()
            passes = getattr(self.encode, "passes", 0)
            fragment = lance.dataset(path, version=version, storage_options=storage_options or None).get_fragment(
                fragment_id
            )
            failed = []

            def vectors_of(batch):  # Lance first calls it on one row to learn the output schema
                vectors = self.encode(batch.column("text").to_pylist())
                try:
                    lance_table.check_vectors(vectors, int(vectors.shape[1]) if vectors.ndim == 2 else -1)
                except ReprostackError as exc:
                    failed.append(exc)
                    raise
                return pa.RecordBatch.from_arrays([lance_table.vector_array(vectors, vectors.shape[1])], names=[column])

            try:
                meta, schema = fragment.merge_columns(vectors_of, columns=["text"], batch_size=batch_size)
            except Exception:  # Lance wraps the UDF's error in its own; the driver shows ours
                if failed:
                    raise failed[0] from None
                raise
            # deleted rows are not encoded (their slots in the new data file are null)
            return (
                json.dumps(meta.to_json()),
                pickle.dumps(schema),
                fragment.count_rows(),
                time.perf_counter() - started,
                getattr(self.encode, "passes", 0) - passes,
            )

    return Filler


def _checkpoint(path: Path | None, name: str, column: str, version: int) -> Checkpoint:
    fresh = Checkpoint(schema_version=Checkpoint.SCHEMA_VERSION, table=name, column=column, read_version=version)
    if path is None or not path.exists():
        return fresh
    found = jsonio.load(path, Checkpoint, error=VectorStoreError, what="backfill checkpoint")
    same = (found.table, found.column, found.read_version) == (name, column, version)
    return found if same else fresh


def _files_exist(table_path: str, checkpoint: Checkpoint) -> bool:
    """A checkpoint's files may have been removed since (`vectors optimize` deletes unreferenced
    files): then the backfill starts over. Checked on a local path only; on an object store the
    checkpoint is trusted (a missing file would fail verification after the commit, before the
    switch, and `vectors restore pre-migrate-...` undoes it)."""
    if "://" in table_path:
        return True
    return all(
        (Path(table_path) / "data" / f["path"]).is_file()
        for fragment in checkpoint.fragments.values()
        for f in fragment["files"]
    )


def _remote_error(exc: Exception, done: int, total: int) -> ReprostackError:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, ReprostackError):  # e.g. NaN vectors: the worker's own one-line error
        return type(cause)(str(cause))
    first = str(cause or exc).strip().splitlines()
    return ClusterError(
        f"a fragment's backfill failed on the cluster ({first[-1] if first else exc}); "
        f"{done} of {total} fragments are done and kept: re-run the same command to finish"
    )


def backfill(
    uri: str,
    name: str,
    column: str,
    make_encoder: Callable[[], Callable],
    ray: RayParams,
    threads: int | None = None,
    batch_size: int = 1024,
    storage_options: dict | None = None,
    checkpoint_path: str | Path | None = None,
) -> dict:
    """Add `column` to table `name`, filled for every row on the cluster, in one commit; each actor
    calls `make_encoder` once (cluster/pool.encoder_factory) and encodes whole fragments.
    Returns what it did: rows, fragments (done now / before), per-fragment and commit seconds,
    forward passes, actors and the cluster's nodes."""
    import lance

    checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
    data = lance_table.dataset(uri, name, storage_options=storage_options)
    if column in data.schema.names:
        raise VectorStoreError(f"column {column!r} exists already; the backfill adds a new column only")
    path = lance_table.table_path(uri, name)
    checkpoint = _checkpoint(checkpoint_path, name, column, data.version)
    if not _files_exist(path, checkpoint):
        checkpoint = Checkpoint(schema_version=1, table=name, column=column, read_version=data.version)
    order = [f.fragment_id for f in data.get_fragments()]
    todo = [f for f in order if str(f) not in checkpoint.fragments]
    stats = {
        "engine": "ray",
        "fragments": len(order),
        "fragments_done_before": len(order) - len(todo),
        "rows_embedded": 0,
        "passes": 0,
        "fragment_seconds": [],
        "actors": 0,
    }
    started = time.perf_counter()
    with session.connect(ray, threads) as cluster:
        stats["cluster"] = cluster.to_record()
        if todo:
            if checkpoint_path is not None:
                jsonio.save(checkpoint_path, checkpoint)  # the intent: this backfill is under way
            _run(ray, make_encoder, path, checkpoint, todo, column, batch_size, storage_options, checkpoint_path, stats)
    stats["backfill_seconds"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    fragments = [lance.FragmentMetadata.from_json(json.dumps(checkpoint.fragments[str(f)])) for f in order]
    schema = pickle.loads(base64.b64decode(checkpoint.schema_pickle))
    try:
        lance.LanceDataset.commit(
            path,
            lance.LanceOperation.Merge(fragments, schema),
            read_version=checkpoint.read_version,
            storage_options=storage_options or None,
        )
    except (OSError, ValueError) as exc:
        raise VectorStoreError(
            f"the backfilled column {column!r} could not be committed: {str(exc).splitlines()[0]}; "
            f"re-run the same command"
        ) from None
    faults.point("migrate.ray-after-merge")
    stats["commit_seconds"] = round(time.perf_counter() - started, 3)
    if checkpoint_path is not None:
        checkpoint_path.unlink(missing_ok=True)
    stats["fragment_seconds"] = [round(s, 3) for s in stats["fragment_seconds"]]
    return stats


def _run(
    ray: RayParams,
    make_encoder,
    path,
    checkpoint: Checkpoint,
    todo: list[int],
    column: str,
    batch_size: int,
    storage_options,
    checkpoint_path: Path | None,
    stats: dict,
) -> None:
    """Encode the missing fragments on an actor pool, checkpointing each as it finishes."""
    import ray as ray_module
    from ray.util import ActorPool

    options = {
        "num_cpus": ray.num_cpus,
        "num_gpus": ray.num_gpus,
        "max_restarts": pool.RETRIES,
        "max_task_retries": pool.RETRIES,
    }  # a killed actor is restarted and its fragment retried
    count = min(len(todo), pool.actors(ray))
    actors = ActorPool([_actor(options).remote(make_encoder) for _ in range(count)])
    stats["actors"] = count
    for fragment_id in todo:
        actors.submit(
            lambda actor, f: actor.fill.remote(path, checkpoint.read_version, f, column, batch_size, storage_options),
            fragment_id,
        )
    done, saved = len(checkpoint.fragments), 0.0
    try:
        while actors.has_next():
            try:
                meta, schema, rows, seconds, passes = actors.get_next_unordered()
            except ray_module.exceptions.RayError as exc:
                raise _remote_error(exc, done, stats["fragments"]) from None
            fragment = json.loads(meta)
            checkpoint.fragments[str(fragment["id"])] = fragment
            checkpoint.schema_pickle = checkpoint.schema_pickle or base64.b64encode(schema).decode()
            done += 1
            stats["rows_embedded"] += rows
            stats["passes"] += passes
            stats["fragment_seconds"].append(seconds)
            # the checkpoint grows with the fragments: rewriting it after each of thousands would cost
            # O(fragments^2) bytes, so at most every CHECKPOINT_EVERY_S (a kill loses that much work)
            if checkpoint_path is not None and time.monotonic() - saved >= CHECKPOINT_EVERY_S:
                jsonio.save(checkpoint_path, checkpoint)
                saved = time.monotonic()
                faults.point("migrate.ray-after-fragment")
    finally:  # also on a failure: the fragments done are kept for the re-run
        if checkpoint_path is not None:
            jsonio.save(checkpoint_path, checkpoint)
