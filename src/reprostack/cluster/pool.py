"""The actor pool both Ray paths share (cluster/encode.py's encoder and full build,
cluster/backfill.py): each actor builds its encoder once and encodes the blocks it is handed;
blocks are retried on restarted actors a bounded number of times.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from typing import TYPE_CHECKING

from reprostack.core.errors import ClusterError
from reprostack.model import encoding

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from reprostack.core.params import EmbeddingParams, RayParams
    from reprostack.model.embedding import ResolvedModel

RETRIES = 3  # actor restarts, and retries of a block on a restarted actor
ROW, TEXT = "__row", "text"


def encoder_factory(resolved: ResolvedModel, emb: EmbeddingParams, seed: int, threads: int) -> Callable:
    """What each actor calls once to get its encoder (pickled to the actors; loads nothing here)."""
    from reprostack.model import embedding

    return functools.partial(
        embedding.lazy_encoder,
        resolved,
        emb.device,
        emb.batch_size,
        emb.normalize,
        seed,
        threads,
        scheme=emb.encoding,
        backend=emb.backend,
    )


class EncodeActor:
    """One actor of the pool: builds its encoder once, then encodes the blocks it is handed.

    A block is a pyarrow table with the row index (ROW) and the text; `finish(block, vectors)`
    turns the encoded block (a model.encoding.Encoded) into the output table (default: row
    index, vector and whether the text was truncated)."""

    def __init__(self, make_encoder: Callable, finish: Callable | None = None) -> None:
        self.encoder = make_encoder()
        self.finish = finish or _vectors_out

    def __call__(self, block: pa.Table) -> pa.Table:
        import pyarrow as pa

        passes, truncated = self.encoder.passes, self.encoder.truncated
        texts = block.column(TEXT).to_pylist()
        if hasattr(self.encoder, "encode"):  # model.embedding.LazyEncoder: which texts were truncated
            encoded = self.encoder.encode(texts)
        else:  # a bare texts -> vectors callable
            encoded = encoding.Encoded(self.encoder(texts), [False] * len(texts))
        out = self.finish(block, encoded)
        counts = [0] * out.num_rows  # this block's counts on its first output row, summed by the driver
        counts_of = {"__passes": self.encoder.passes - passes, "__truncated": self.encoder.truncated - truncated}
        for name, value in counts_of.items():
            out = out.append_column(name, pa.array([value] + counts[1:], pa.int64()))
        return out


def _vectors_out(block: pa.Table, encoded: encoding.Encoded) -> pa.Table:
    import pyarrow as pa

    from reprostack.vectors import lance_table

    vectors = encoded.vectors
    return pa.table(
        {
            ROW: block.column(ROW),
            "vector": lance_table.vector_array(vectors, int(vectors.shape[1])),
            "truncated": pa.array(encoded.truncated or [False] * len(vectors), pa.bool_()),
        }
    )


def actors(params: RayParams) -> int:
    """Pool size: actors_per_node on every alive node."""
    import ray

    return max(1, sum(1 for node in ray.nodes() if node["Alive"])) * params.actors_per_node


@contextmanager
def quiet():
    """Ray Data logs its plan and draws progress bars; the library never prints."""
    from ray.data import DataContext

    context = DataContext.get_current()
    saved = context.enable_progress_bars, context.print_on_execution_start
    context.enable_progress_bars, context.print_on_execution_start = False, False
    loggers = [logging.getLogger(name) for name in ("ray.data", "ray")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        context.enable_progress_bars, context.print_on_execution_start = saved
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def run_pool(
    rows: pa.Table, make_encoder: Callable, params: RayParams, finish: Callable | None = None
) -> tuple[pa.Table, int, int]:
    """Encode `rows` (ROW and TEXT columns, maybe more) on the pool, in blocks of
    params.batch_size rows. Returns the concatenated outputs and the summed (passes, truncated)."""
    import pyarrow as pa
    import ray

    blocks = [rows.slice(start, params.batch_size) for start in range(0, rows.num_rows, params.batch_size)]
    with quiet(), warnings.catch_warnings():
        # max_restarts and max_task_retries have no named parameter yet (Ray 2.60 deprecates
        # passing them this way but has no other); Ray Data's default is to retry forever.
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = ray.data.from_arrow(blocks).map_batches(
            EncodeActor,
            fn_constructor_args=(make_encoder, finish),
            batch_size=params.batch_size,
            batch_format="pyarrow",
            zero_copy_batch=True,
            compute=ray.data.ActorPoolStrategy(size=actors(params)),
            num_cpus=params.num_cpus,
            num_gpus=params.num_gpus or None,
            max_restarts=RETRIES,
            max_task_retries=RETRIES,
        )
        try:
            out = pa.concat_tables(ray.get(dataset.to_arrow_refs()))
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"encoding on the Ray cluster failed: {_first_line(exc)}") from None
    passes, truncated = (int(pa.compute.sum(out.column(name)).as_py() or 0) for name in ("__passes", "__truncated"))
    return out.drop_columns(["__passes", "__truncated"]), passes, truncated


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]
