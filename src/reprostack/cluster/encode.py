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

Faults: Ray restarts a killed actor and retries its block (pool.RETRIES times each, not forever: a
block that kills every actor must end the run). `faults.point("embed.ray-encoded")` is the
driver holding every vector, before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING

from reprostack.cluster import session
from reprostack.cluster.pool import ROW, TEXT, encoder_factory, run_pool
from reprostack.core import faults
from reprostack.core.errors import ConfigError
from reprostack.model import encoding

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pyarrow as pa

    from reprostack.core.params import EmbeddingParams, RayParams
    from reprostack.model.embedding import ResolvedModel


class RayEncoder:
    """texts -> vectors on the Ray cluster, counting as model.embedding.LazyEncoder does."""

    def __init__(self, make_encoder: Callable, params: RayParams, threads: int | None = None) -> None:
        self.make_encoder, self.params, self.threads = make_encoder, params, threads
        self.texts = self.truncated = self.passes = 0
        self.cluster: session.Cluster | None = None
        self._exit = ExitStack()

    def __enter__(self) -> RayEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self._exit.close()

    def connect(self) -> session.Cluster:
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
        from reprostack.vectors import lance_table

        order = np.argsort(out.column(ROW).to_numpy())
        vectors = lance_table.vectors_of(out, "vector")[order]
        flags = out.column("truncated").to_numpy(zero_copy_only=False)[order].tolist()
        faults.point("embed.ray-encoded")
        self.texts += len(texts)
        self.passes += passes
        self.truncated += truncated
        return encoding.Encoded(vectors, flags, passes)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts).vectors

    def write_table(self, path: str, rows: pa.Table, schema_for: Callable, storage_options: dict | None):
        """Full build: see cluster/build.py."""
        from reprostack.cluster import build

        self.connect()
        return build.write_table(self, path, rows, schema_for, storage_options)


def ray_encoder(resolved: ResolvedModel, emb: EmbeddingParams, seed: int, threads: int) -> RayEncoder:
    if emb.device.startswith("cuda") and not emb.ray.num_gpus:
        # Ray hides every GPU from an actor that reserved none (CUDA_VISIBLE_DEVICES="")
        raise ConfigError(
            f"embedding.device is {emb.device} but embedding.ray.num_gpus is 0, so Ray gives the "
            "actors no GPU; set embedding.ray.num_gpus (e.g. 1) in conf/embedding/, or device: cpu"
        )
    return RayEncoder(encoder_factory(resolved, emb, seed, threads), emb.ray, threads)
