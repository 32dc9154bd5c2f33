"""Encoding on a Ray cluster: an actor pool in which each actor loads the model once.

The API (the embed stage and `vectors migrate` use it the same way):

    from reprostack.cluster import encode

    with encode.ray_encoder(resolved, params.embedding, params.seed, params.threads) as encoder:
        vectors = encoder(texts)   # float32 (n, dim), in input order
        encoder.texts, encoder.passes, encoder.truncated   # counts, as model.embedding.LazyEncoder keeps them
    encoder.cluster   # session.Cluster it ran on (nodes, resources, Ray version); None if never called

`RayEncoder` is the `encode` callable that vectors/update.update and vectors/migrate take, and
`encoder.encode(texts)` returns a model.encoding.Encoded. It joins the cluster (session.connect:
embedding.ray.address, or a local instance) on its first call only, so a run with nothing to
encode never starts or needs one, and leaves it when the `with` block ends; inside a
`session.connect` block it uses that connection. Its `write_table` is the full build: the actors
also write the encoded rows as Lance fragments and the driver commits them once (cluster/build.py).

Input: the driver hands Ray Data the texts it already holds (`from_arrow`, in blocks of
embedding.ray.batch_size rows), which puts them in the cluster's object store: the snapshot is a
file on the driver's disk, which other nodes need not see, and the driver reads it anyway (ids
and the plan). Blocks go to the pool in any order; results are put back in input order.

Bits: each actor encodes through model.embedding.lazy_encoder with the same
`configure_determinism(seed, threads)` as the local engine (Ray sets OMP_NUM_THREADS=1 in
actors; torch.set_num_threads(threads) overrides it, and the thread count must match or bits
differ), and model/encoding.py is batch-invariant: a text's vector does not depend on the block
it is encoded in, so any split over any number of actors is bit-identical to one machine.

Faults: Ray restarts a killed actor and retries its block (RETRIES times each, not forever: a
block that kills every actor must end the run). `faults.point("embed.ray-encoded")` is the
driver holding every vector, before anything is written.
"""

from __future__ import annotations

import functools
import logging
import warnings
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Callable, Sequence

from reprostack.core import faults
from reprostack.cluster import session
from reprostack.core.errors import ClusterError, ConfigError
from reprostack.model import encoding

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pyarrow as pa

    from reprostack.model.embedding import ResolvedModel
    from reprostack.core.params import EmbeddingParams, RayParams

RETRIES = 3  # actor restarts, and retries of a block on a restarted actor
ROW, TEXT = "__row", "text"


def encoder_factory(resolved: "ResolvedModel", emb: "EmbeddingParams", seed: int, threads: int) -> Callable:
    """What each actor calls once to get its encoder (pickled to the actors; loads nothing here)."""
    from reprostack.model import embedding

    return functools.partial(embedding.lazy_encoder, resolved, emb.device, emb.batch_size, emb.normalize, seed,
                             threads, scheme=emb.encoding)


class EncodeActor:
    """One actor of the pool: builds its encoder once, then encodes the blocks it is handed.

    A block is a pyarrow table with the row index (ROW) and the text; `finish(block, vectors)`
    turns the encoded block (a model.encoding.Encoded) into the output table (default: row
    index, vector and whether the text was truncated)."""

    def __init__(self, make_encoder: Callable, finish: Callable | None = None) -> None:
        self.encoder = make_encoder()
        self.finish = finish or _vectors_out

    def __call__(self, block: "pa.Table") -> "pa.Table":
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


def _vectors_out(block: "pa.Table", encoded: encoding.Encoded) -> "pa.Table":
    import pyarrow as pa

    from reprostack.vectors import store

    vectors = encoded.vectors
    return pa.table({ROW: block.column(ROW), "vector": store.vector_array(vectors, int(vectors.shape[1])),
                     "truncated": pa.array(encoded.truncated or [False] * len(vectors), pa.bool_())})


def actors(params: "RayParams") -> int:
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


def run_pool(rows: "pa.Table", make_encoder: Callable, params: "RayParams", finish: Callable | None = None
             ) -> tuple["pa.Table", int, int]:
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
            EncodeActor, fn_constructor_args=(make_encoder, finish), batch_size=params.batch_size,
            batch_format="pyarrow", zero_copy_batch=True, compute=ray.data.ActorPoolStrategy(size=actors(params)),
            num_cpus=params.num_cpus, num_gpus=params.num_gpus or None, max_restarts=RETRIES, max_task_retries=RETRIES)
        try:
            out = pa.concat_tables(ray.get(dataset.to_arrow_refs()))
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"encoding on the Ray cluster failed: {_first_line(exc)}") from None
    passes, truncated = (int(pa.compute.sum(out.column(name)).as_py() or 0) for name in ("__passes", "__truncated"))
    return out.drop_columns(["__passes", "__truncated"]), passes, truncated


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


class RayEncoder:
    """texts -> vectors on the Ray cluster, counting as model.embedding.LazyEncoder does."""

    def __init__(self, make_encoder: Callable, params: "RayParams", threads: int | None = None) -> None:
        self.make_encoder, self.params, self.threads = make_encoder, params, threads
        self.texts = self.truncated = self.passes = 0
        self.cluster: session.Cluster | None = None
        self._exit = ExitStack()

    def __enter__(self) -> "RayEncoder":
        return self

    def __exit__(self, *exc) -> None:
        self._exit.close()

    def connect(self) -> "session.Cluster":
        if self.cluster is None:
            self.cluster = self._exit.enter_context(session.connect(self.params, self.threads))
        return self.cluster

    def encode(self, texts: Sequence[str]) -> encoding.Encoded:
        import numpy as np
        import pyarrow as pa

        texts = list(texts)
        if not texts:
            return encoding.Encoded(np.empty((0, 0), np.float32), [], 0)
        self.connect()
        rows = pa.table({ROW: pa.array(range(len(texts)), pa.int64()), TEXT: pa.array(texts, pa.string())})
        out, passes, truncated = run_pool(rows, self.make_encoder, self.params)
        from reprostack.vectors import store

        order = np.argsort(out.column(ROW).to_numpy())
        vectors = store.vectors_of(out, "vector")[order]
        flags = out.column("truncated").to_numpy(zero_copy_only=False)[order].tolist()
        faults.point("embed.ray-encoded")
        self.texts += len(texts)
        self.passes += passes
        self.truncated += truncated
        return encoding.Encoded(vectors, flags, passes)

    def __call__(self, texts: Sequence[str]) -> "np.ndarray":
        return self.encode(texts).vectors

    def write_table(self, path: str, rows: "pa.Table", schema_for: Callable, storage_options: dict | None):
        """Full build: see cluster/build.py."""
        from reprostack.cluster import build

        self.connect()
        return build.write_table(self, path, rows, schema_for, storage_options)


def ray_encoder(resolved: "ResolvedModel", emb: "EmbeddingParams", seed: int, threads: int) -> RayEncoder:
    if emb.device.startswith("cuda") and not emb.ray.num_gpus:
        # Ray hides every GPU from an actor that reserved none (CUDA_VISIBLE_DEVICES="")
        raise ConfigError(f"embedding.device is {emb.device} but embedding.ray.num_gpus is 0, so Ray gives the "
                          "actors no GPU; set embedding.ray.num_gpus (e.g. 1) in conf/embedding/, or device: cpu")
    return RayEncoder(encoder_factory(resolved, emb, seed, threads), emb.ray, threads)
