"""The API for a project's params, dataset, snapshots and vector table (see reprostack.api)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reprostack.results import (
    SearchHit,
    SearchResult,
    SnapshotInfo,
    VectorsInfo,
)

if TYPE_CHECKING:  # pragma: no cover
    from reprostack.core.config import Params
    from reprostack.data.dataset import TextTable
    from reprostack.data.refs import Snapshot

from reprostack.api._common import PARAMS, _params, _under

# ---- what a project's own code and tests use ----------------------------------------------------


def load_params(root: str | Path = ".", params_file: str | Path = PARAMS) -> Params:
    """params.yaml, validated: a bad value is one ConfigError naming the key and the fix."""
    return _params(root, params_file)


def params_drift(root: str | Path = ".", params_file: str | Path = PARAMS) -> dict[str, tuple]:
    """Keys where params.yaml differs from conf/ composed, as (conf/ value, params.yaml value)."""
    from reprostack.core import config

    return config.drift(Path(root) / config.CONF_DIR, Path(root) / params_file)


def check_params(root: str | Path = ".", params_file: str | Path = PARAMS) -> Params:
    """load_params, then build (not fit) the classifier they name and import the data hook, if
    any: what must hold before the pipeline can run, checked without data."""
    from reprostack.data import hook
    from reprostack.model import training

    params = _params(root, params_file)
    training.check_classifier(params)
    if params.data.preprocess is not None:
        hook.load(params.data.preprocess)
    return params


def read_dataset(root: str | Path = ".", params_file: str | Path = PARAMS) -> TextTable:
    """The dataset as the pipeline uses it: data.raw_dir/data.file read with the configured
    columns and checked, then passed through the project's data.preprocess hook if it has one."""
    from reprostack.data import hook

    data = _params(root, params_file).data
    return hook.read_dataset(Path(_under(root, data.raw_dir)) / data.file, data)


def create_snapshot(
    source: str | Path | None = None,
    dataset: str | None = None,
    *,
    label: str | None = None,
    notes: str = "",
    link: str | None = None,
    repair: bool = False,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> Snapshot:
    """Freeze `source` (default: data.raw_dir) as an immutable, content-addressed snapshot; the
    existing one when the content is unchanged. From data.raw_dir only data.file is taken (the
    snapshot stage's own input, so a repair rebuilds the stage's snapshot, same digest)."""
    from reprostack.data import snapshot

    params = _params(root, params_file)
    raw = Path(_under(root, params.data.raw_dir))
    source = Path(source) if source is not None else raw
    only = [params.data.file] if source.resolve() == raw.resolve() else None
    return snapshot.create(
        source,
        _under(root, params.paths.snapshots),
        dataset or params.data.name,
        notes=notes,
        label=label,
        link=link or params.data.link,
        repair=repair,
        only=only,
    )


def list_snapshots(root: str | Path = ".", params_file: str | Path = PARAMS) -> list[SnapshotInfo]:
    """Every snapshot with its labels, oldest first per dataset."""
    from reprostack.data import snapshot

    found = snapshot.list_snapshots(_under(root, _params(root, params_file).paths.snapshots))
    return [SnapshotInfo(**row) for row in found]


def vectors_info(
    ref: int | str | None = None,
    *,
    uri: str | None = None,
    table: str | None = None,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> VectorsInfo:
    """One version of the vector table (default: the latest; a number or a tag); uri and table
    default to embedding.uri and embedding.table."""
    from reprostack.vectors import lance_table, versions

    emb = _params(root, params_file).embedding
    data = lance_table.dataset(_under(root, uri or emb.uri), table or emb.table, ref, emb.storage_options)
    return VectorsInfo(table=table or emb.table, **versions.show(data))


def search_vectors(
    text: str,
    k: int = 5,
    *,
    where: str | None = None,
    column: str | None = None,
    ref: int | str | None = None,
    uri: str | None = None,
    table: str | None = None,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
    on_load: Callable[[str], None] | None = None,
) -> SearchResult:
    """The k rows nearest to `text`, encoded with the model the column was embedded with (its
    recorded fingerprint must match the installed weights). `on_load(line)` hears about the
    model load, the slow part, before it starts."""
    from reprostack.vectors import search

    params = _params(root, params_file)
    table, column, hits = search.search_text(
        _under(root, uri or params.embedding.uri),
        table,
        text,
        k,
        where=where,
        column=column,
        ref=ref,
        params=params,
        root=root,
        on_load=on_load,
    )
    return SearchResult(
        query=text,
        column=column,
        version=table.version,
        index_used=hits.index_used,
        seconds=round(hits.seconds, 4),
        results=[SearchHit(**row) for row in hits.rows],
    )
