"""Full build on Ray: actors encode and write Lance fragments in parallel, the driver commits once.

Each actor encodes its block of rows and writes it as one Lance fragment straight into the
table's directory (lance-ray's `write_fragment`, the write path of its LanceDatasink), returning
only the fragment's metadata. The driver then commits every fragment in ONE
`LanceOperation.Overwrite`: the table's first version appears whole or not at all. Fragments of
a run that dies before that commit are files no version refers to; the next run starts over.

The schema (and its "reprostack" metadata, vectors/lance_table.py) comes from `schema_for(dimension)`,
which vectors/update.py builds exactly as the local engine's create does, so both engines make
the same schema, metadata and rows; only the rows' split into fragments differs (one per block of
embedding.ray.batch_size rows; `reprostack vectors optimize` compacts them).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING

from reprostack.cluster.pool import ROW, run_pool
from reprostack.core import faults
from reprostack.core.errors import VectorStoreError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from reprostack.model.encoding import Encoded


class FragmentWriter:
    """The actors' `finish`: the encoded block as one fragment of the table at `path`."""

    def __init__(self, path: str, column: str, schema_for: Callable, storage_options: dict | None) -> None:
        self.path, self.column, self.schema_for, self.storage_options = path, column, schema_for, storage_options

    def __call__(self, block: pa.Table, encoded: Encoded) -> pa.Table:
        import pyarrow as pa
        from lance_ray.fragment import write_fragment

        from reprostack.vectors import lance_table

        vectors = encoded.vectors
        dimension = int(vectors.shape[1]) if vectors.ndim == 2 else -1
        lance_table.check_vectors(vectors, dimension)
        schema = self.schema_for(dimension)
        rows = block.drop_columns([ROW]).append_column(self.column, lance_table.vector_array(vectors, dimension))
        written = write_fragment(
            [rows.select(schema.names).cast(schema)],
            self.path,
            schema=schema,
            storage_options=self.storage_options or None,
        )
        first = block.column(ROW)[0].as_py()
        return pa.table(
            {
                ROW: [first] * len(written),
                "dimension": [dimension] * len(written),
                "fragment": [pickle.dumps(fragment) for fragment, _ in written],
            }
        )


def write_table(
    encoder, path: str, rows: pa.Table, schema_for: Callable, storage_options: dict | None
) -> tuple[int, int]:
    """Create the table at `path` from `rows` (every row column but the vectors, `text` among
    them) in one commit. Returns (version, dimension). `encoder` is cluster/encode.RayEncoder (its
    make_encoder and params run the pool; its counts grow as for encode()), not imported here:
    that module calls this one."""
    import lance
    import pyarrow as pa

    from reprostack.vectors import lance_table

    if "://" not in path:  # the actors' working directory is not ours
        path = os.path.abspath(path)
    indexed = rows.append_column(ROW, pa.array(range(rows.num_rows), pa.int64()))
    writer = FragmentWriter(path, lance_table.FIRST_COLUMN, schema_for, storage_options)
    out, passes, truncated = run_pool(indexed, encoder.make_encoder, encoder.params, finish=writer)
    dimensions = set(out.column("dimension").to_pylist())
    if len(dimensions) != 1:
        raise VectorStoreError(
            f"the actors' vectors have dimensions {sorted(dimensions)}; every actor must load "
            "the same model (check embedding.model on every node)"
        )
    dimension = dimensions.pop()
    order = sorted(range(out.num_rows), key=out.column(ROW).to_pylist().__getitem__)  # the input's row order
    fragments = [pickle.loads(out.column("fragment")[i].as_py()) for i in order]
    _check_visible(path, fragments)
    faults.point("embed.ray-fragments")  # every fragment written, nothing committed
    try:  # an Overwrite would replace a table another run created meanwhile; the local create refuses
        lance.dataset(path, storage_options=storage_options or None)
    except (ValueError, OSError):
        pass
    else:
        raise VectorStoreError(
            f"{path} was created by another run while this one embedded; nothing was committed, "
            "run `dvc repro` again to update it incrementally"
        )
    data = lance.LanceDataset.commit(
        path, lance.LanceOperation.Overwrite(schema_for(dimension), fragments), storage_options=storage_options or None
    )
    encoder.texts += rows.num_rows
    encoder.passes += passes
    encoder.truncated += truncated
    return data.version, dimension


def _check_visible(path: str, fragments: list) -> None:
    """A local path must be one directory that every node shares: an actor on another machine
    writes to its own disk, and a commit naming files this machine cannot see is a broken table."""
    if "://" in path:
        return
    missing = [
        f.path
        for fragment in fragments
        for f in fragment.data_files()
        if not os.path.exists(os.path.join(path, "data", f.path))
    ]
    if missing:
        raise VectorStoreError(
            f"{len(missing)} fragment file(s) the Ray workers wrote are not in {path} on this machine, so nothing was "
            "committed; set embedding.uri to a directory every node mounts, or to an object store (s3://...)"
        )
