"""reprostack's public API: what projects and the CLI call (gto's api.py).

`__all__` is the library's semver surface (tests/test_api.py pins it): removing or renaming a
name is a major version, adding one a minor. Every function takes the project's `root` (default:
here) and the params file relative to it, returns a typed result (results.py, or the library's
own validated document where one exists), never prints, and raises ReprostackError subclasses
with one line naming the fix. Importing this module is cheap: everything heavy is imported
inside the function that needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reprostack.results import (
    Check,
    Prediction,
    Predictions,
    ReleaseResult,
    ReproduceResult,
    SearchHit,
    SearchResult,
    SnapshotInfo,
    StorePush,
    VectorsInfo,
    VerifyReport,
)

if TYPE_CHECKING:  # pragma: no cover
    from reprostack.core.config import Params
    from reprostack.data.dataset import TextTable
    from reprostack.data.refs import Snapshot
    from reprostack.registry.catalog import Registry
    from reprostack.registry.history import Event
    from reprostack.registry.loader import LoadedModel
    from reprostack.runs.records import RunRecord

__all__ = [
    "TextTable",
    "check_params",
    "load_params",
    "params_drift",
    "read_dataset",
    "Check",
    "Prediction",
    "Predictions",
    "ReleaseResult",
    "ReproduceResult",
    "SearchHit",
    "SearchResult",
    "SnapshotInfo",
    "StorePush",
    "VectorsInfo",
    "VerifyReport",
    "create_snapshot",
    "demote",
    "list_runs",
    "list_snapshots",
    "load_model",
    "predict",
    "promote",
    "release",
    "reproduce_run",
    "rollback",
    "search_vectors",
    "show_registry",
    "show_run",
    "vectors_info",
    "verify",
]

PARAMS = "params.yaml"


def __getattr__(name: str):
    """TextTable (the data hook's argument and result) on first use: reprostack.data loads pydantic."""
    if name == "TextTable":
        from reprostack.data.dataset import TextTable

        return TextTable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _params(root: str | Path, params_file: str | Path) -> Params:
    from reprostack.core import config

    return config.load_params(Path(root) / params_file)


def _under(root: str | Path, path: str | Path) -> str:
    """A params path as seen from here: relative ones are the project's, URIs stay as they are."""
    return str(path) if "://" in str(path) or Path(path).is_absolute() else str(Path(root) / path)


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


def _registry_data(root: str | Path, params: Params) -> dict | None:
    from reprostack.registry import catalog

    return catalog.read(root, params.registry) if (Path(root) / catalog.REGISTRY_FILE).exists() else None


def list_runs(root: str | Path = ".", params_file: str | Path = PARAMS) -> list[RunRecord]:
    """Every run record, oldest first, each with outputs.model_version naming its releases."""
    from reprostack.runs import records

    params = _params(root, params_file)
    registry = _registry_data(root, params)
    return [
        records.RunRecord.model_validate(records.with_release(r, registry))
        for r in records.list_records(_under(root, params.paths.runs))
    ]


def show_run(run_id: str, root: str | Path = ".", params_file: str | Path = PARAMS) -> RunRecord:
    """One run record: an id, a unique prefix of one, or 'latest'."""
    from reprostack.runs import records

    params = _params(root, params_file)
    runs_dir = _under(root, params.paths.runs)
    record = records.read_record(runs_dir, records.resolve_run_id(runs_dir, run_id))
    return records.RunRecord.model_validate(records.with_release(record, _registry_data(root, params)))


def reproduce_run(
    run_id: str,
    *,
    re_embed: bool = False,
    allow_dirty: bool = False,
    keep: bool = False,
    progress: Callable[[str], None] | None = None,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> ReproduceResult:
    """Re-run a run from its commit in a temporary worktree and compare its outputs with the record."""
    from reprostack.runs import records, reproduce

    runs_dir = _params(root, params_file).paths.runs
    run_id = records.resolve_run_id(_under(root, runs_dir), run_id)
    found = reproduce.reproduce(
        root,
        runs_dir,
        run_id,
        re_embed=re_embed,
        allow_dirty=allow_dirty,
        keep=keep,
        progress=progress or (lambda line: None),
    )
    top = {
        name: found.pop(name) for name in ("run_id", "commit", "mode", "verdict", "reproduced", "seconds", "worktree")
    }
    return ReproduceResult(**top, comparison=found)


def release(
    name: str | None = None,
    *,
    version: str | None = None,
    bump: str | None = None,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> ReleaseResult:
    """Register the candidate as a new version (default name: model_name), commit, tag, and push
    it to the store if one is configured (a failed push leaves the release standing)."""
    from reprostack.core import names
    from reprostack.registry import release as releasing

    found = releasing.release(
        root, names.check_model_name(name or _params(root, params_file).model_name), version=version, bump=bump
    )
    return ReleaseResult(**{**found, "store": StorePush(**found["store"])})


def _event(data: dict) -> Event:
    from reprostack.registry.history import Event

    return Event.model_validate(data)


def promote(
    name: str,
    version: str,
    *,
    to: str | None = None,
    reason: str = "",
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> Event:
    """Move a released version up (default: to production, the one there is archived)."""
    from reprostack.registry import promotion

    return _event(promotion.promote(root, _params(root, params_file), name, version, to, reason))


def demote(
    name: str,
    version: str,
    *,
    to: str | None = None,
    reason: str = "",
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> Event:
    """Move a version down (default: to archived)."""
    from reprostack.registry import promotion

    return _event(promotion.demote(root, _params(root, params_file), name, version, to, reason))


def rollback(name: str, *, reason: str = "", root: str | Path = ".", params_file: str | Path = PARAMS) -> Event:
    """Put the previous production version back in production."""
    from reprostack.registry import promotion

    return _event(promotion.rollback(root, _params(root, params_file), name, reason))


def show_registry(root: str | Path = ".", params_file: str | Path = PARAMS) -> Registry:
    """registry.json, validated against conf/registry/'s stage rules (empty before a release)."""
    from reprostack.registry import catalog

    return catalog.Registry.model_validate(catalog.read(root, _params(root, params_file).registry))


def verify(root: str | Path = ".", fix: bool = False) -> VerifyReport:
    """Re-check everything a release depends on; fix: first remove what killed processes left
    behind and re-create stage tags the history made that are gone (the findings fixed in place)."""
    from reprostack.core import config
    from reprostack.registry import audit
    from reprostack.runs import integrity
    from reprostack.runs import verify as checks
    from reprostack.store import sync

    root = Path(root)
    params = config.load_params(root / config.PARAMS_FILE)
    removed = integrity.fix_leftovers(root, params) + audit.restore_tags(root, params) if fix else None
    sections = {
        "environment": checks.check_environment(root),
        "params": checks.check_params(root),
        "snapshots": checks.check_snapshots(root, params),
        "vectors": checks.check_vectors(root, params),
        "models": checks.check_models(root, params),
        "metrics": integrity.check_metrics(root, params),
        "runs": integrity.check_runs(root, params),
        "leftovers": integrity.check_leftovers(root, params),
        "registry": audit.check_registry(root, params),
        "store": sync.check_verify(root),
    }
    return VerifyReport(sections={name: Check(**found) for name, found in sections.items()}, removed=removed)


def load_model(ref: str | None = None, root: str | Path = ".", params_file: str | Path = PARAMS) -> LoadedModel:
    """A registered model, its file checked against the registry's sha256: name, name@stage or
    name@vX.Y.Z (default: model_name in production)."""
    from reprostack.registry import loader

    return loader.load_ref(ref or _params(root, params_file).model_name, root=root)


def predict(
    texts: Sequence[str],
    model: str | LoadedModel | None = None,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> Predictions:
    """Label texts with a registered model (a ref as for load_model, or one already loaded),
    encoded by the embedding model it was trained on."""
    from reprostack.registry import loader

    loaded = model if isinstance(model, loader.LoadedModel) else load_model(model, root, params_file)
    found = loaded.predict(list(texts), loader.text_embedder(loaded.embedding, root))
    return Predictions(model=loaded.info(), predictions=[Prediction(**p) for p in found])
