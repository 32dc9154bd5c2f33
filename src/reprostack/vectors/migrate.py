"""Embedding-model upgrades without copies: a new vector column beside the old one.

    tag the current version pre-migrate-<column>-<n>   (the rollback target)
    add the column (metadata only; the dimension may differ, 384 -> 768)
    fill it in batches, one commit each               (a crash resumes at the first empty row)
    verify: rows, no nulls, dimension, model recorded, search, label precision@k old vs new
    switch the active column                          (one commit) and tag migrated-<column>-<n>
    write the A/B report runs/migrations/migrated-<column>-<n>.json

A kill at any point is resumed by running the same command again: the pre-migrate tag of an
unfinished migration is reused, a column added but not yet recorded is recorded, and after the
switch the tag and the report are completed.

Rollback is `vectors restore pre-migrate-...`; the old column stays until `vectors drop-column`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reprostack.core import faults, jsonio
from reprostack.core.errors import VectorStoreError
from reprostack.model.encoding import DEFAULT_SCHEME
from reprostack.vectors import lance_table
from reprostack.vectors.compare import verify
from reprostack.vectors.update import fill_column

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

# (uri, table, new column, checkpoint path) -> what it did, with "rows_embedded"
Backfill = Callable[[str, str, str, "Path | None"], dict]


def _last_migration(data, column: str) -> tuple[int, bool]:
    """Number of this column's latest migration (0: none) and whether it finished (its
    migrated-<column>-<n> tag exists). Pre and migrated tags of one migration share n."""
    tags = data.tags.list()
    prefix = f"pre-migrate-{column}-"
    numbers = [int(t[len(prefix) :]) for t in tags if t.startswith(prefix) and t[len(prefix) :].isdigit()]
    n = max(numbers, default=0)
    return n, n == 0 or f"migrated-{column}-{n}" in tags


def plan(
    uri: str,
    name: str,
    to_model: str,
    fingerprint: str,
    normalize: bool,
    storage_options: dict | None = None,
    report_dir: str | Path | None = None,
    encoding: str = DEFAULT_SCHEME,
    backend: str = "torch",
) -> dict:
    """What a migration would do. step: start (a new migration), resume (an interrupted one:
    same tags), finish (switched already; the tag or the report is missing)."""
    data = lance_table.dataset(uri, name, storage_options=storage_options)
    meta = lance_table.read_meta(data)
    active = meta["active_column"]
    column = lance_table.column_for(meta, to_model, fingerprint, normalize, encoding, backend)
    name_if_new = lance_table.new_column_name(meta, to_model, fingerprint, encoding, backend)
    n, finished = _last_migration(data, column or name_if_new)
    if column is not None and column == active:
        report = Path(report_dir) / f"migrated-{column}-{n}.json" if report_dir and n else None
        if n == 0 or (finished and (report is None or report.exists())):
            raise VectorStoreError(f"{to_model!r} is already the active model (column {active!r}); nothing to migrate")
        step, active = (
            "finish",
            lance_table.read_meta(lance_table.dataset(uri, name, f"pre-migrate-{column}-{n}", storage_options))[
                "active_column"
            ],
        )
    else:
        step = "start" if finished else "resume"
        n = n + 1 if finished else n
    column = column or name_if_new
    has_column = column in data.schema.names
    return {
        "table": name,
        "version": data.version,
        "rows": data.count_rows(),
        "from_column": active,
        "from_model": meta["columns"][active]["model"],
        "to_column": column,
        "to_model": to_model,
        "rows_to_embed": data.count_rows(filter=f"{column} IS NULL") if has_column else data.count_rows(),
        "resuming": step != "start",
        "step": step,
        "n": n,
    }


def _register(data, meta, column, to_model, fingerprint, normalize, encoding, backend) -> None:
    dimension = data.schema.field(column).type.list_size
    lance_table.write_meta(
        data, lance_table.register_column(meta, column, to_model, fingerprint, normalize, dimension, encoding, backend)
    )


def _fill(
    uri, name, column, to_model, fingerprint, normalize, encode, batch_size, storage_options, encoding, backend, say
) -> int:
    """Embed every row without a vector in `column`, one commit per batch; add and register the
    column first if needed (also a column an interrupted run or a backfill added, not registered)."""
    embedded = 0
    while True:
        data = lance_table.dataset(uri, name, storage_options=storage_options)
        meta = lance_table.read_meta(data)
        if column in data.schema.names and column not in meta["columns"]:
            _register(data, meta, column, to_model, fingerprint, normalize, encoding, backend)
            continue
        filter_ = f"{column} IS NULL" if column in data.schema.names else None
        batch = data.to_table(columns=["id", "text"], filter=filter_, limit=batch_size)
        if batch.num_rows == 0:
            return embedded
        vectors = encode(batch.column("text").to_pylist())
        if column not in data.schema.names:
            lance_table.check_vectors(vectors, int(vectors.shape[1]) if vectors.ndim == 2 else -1)
            data.add_columns(lance_table.vector_field(column, int(vectors.shape[1])))
            faults.point("migrate.after-add-column")
            data = lance_table.dataset(uri, name, storage_options=storage_options)
            _register(data, meta, column, to_model, fingerprint, normalize, encoding, backend)
            data = lance_table.dataset(uri, name, storage_options=storage_options)
            meta = lance_table.read_meta(data)
        dimension = meta["columns"][column]["dimension"]
        lance_table.check_vectors(vectors, dimension)
        fill_column(data, column, batch.column("id").to_pylist(), vectors, dimension)
        embedded += batch.num_rows
        say(f"committed {embedded} rows of column {column}")
        faults.point("migrate.after-batch")


def migrate(
    uri: str,
    name: str,
    to_model: str,
    fingerprint: str,
    normalize: bool,
    encode: Callable[[list[str]], np.ndarray],
    batch_size: int = 1024,
    k: int = 10,
    max_precision_drop: float = 0.05,
    storage_options: dict | None = None,
    report_dir: str | Path | None = None,
    encoding: str = DEFAULT_SCHEME,
    backfill: Backfill | None = None,
    backend: str = "torch",
    on_progress: Callable[[str], None] | None = None,
) -> dict:
    """Resumable at every point: a re-run after a kill continues the same migration (same tags)
    and completes the switch, the migrated tag and the report.

    `backfill` (cluster/backfill.py on Ray) adds the new column filled for every row in one
    commit; then the local fill below only registers it. A column that is already there (half
    filled by an interrupted local run) is finished by the local fill. `on_progress(line)` hears each step
    as it starts (the CLI prints them: minutes of silent work otherwise)."""
    say = on_progress or (lambda line: None)
    p = plan(uri, name, to_model, fingerprint, normalize, storage_options, report_dir, encoding, backend)
    say(
        f"{'resuming' if p['resuming'] else 'starting'} migration of {name} to {to_model}: "
        f"{p['rows_to_embed']} of {p['rows']} rows to embed into column {p['to_column']}"
    )
    column, n = p["to_column"], p["n"]
    pre_tag, done_tag = f"pre-migrate-{column}-{n}", f"migrated-{column}-{n}"
    data = lance_table.dataset(uri, name, storage_options=storage_options)
    if pre_tag not in data.tags.list():
        data.tags.create(pre_tag, data.version)
        faults.point("migrate.after-pre-tag")
    started = time.perf_counter()
    embedded, engine = 0, {"engine": "local"}
    checkpoint = Path(report_dir) / f"backfill-{column}-{n}.json" if report_dir is not None else None
    if p["step"] != "finish" and backfill is not None and column not in data.schema.names:
        say(f"backfilling column {column} on the Ray cluster...")
        engine = backfill(uri, name, column, checkpoint)
        embedded = engine.pop("rows_embedded")
    if checkpoint is not None:  # no checkpoint outlives this: the column is committed, or filled locally below
        checkpoint.unlink(missing_ok=True)
    if p["step"] != "finish":
        say(f"embedding with {to_model} (the model loads on the first batch)...")
        embedded += _fill(
            uri,
            name,
            column,
            to_model,
            fingerprint,
            normalize,
            encode,
            batch_size,
            storage_options,
            encoding,
            backend,
            say,
        )
    embed_seconds = time.perf_counter() - started
    say(f"checking the new column and comparing label precision@{k} with {p['from_column']}...")
    checks, comparison = verify(uri, name, p["from_column"], column, to_model, encode, k, storage_options)
    failed = [c for c in checks if not c["ok"]]
    drop = comparison["precision_at_k"][p["from_column"]] - comparison["precision_at_k"][column]
    if drop > max_precision_drop:
        failed.append(
            {
                "check": "precision",
                "ok": False,
                "detail": f"label precision@{k} drops by {drop:.3f} (limit {max_precision_drop})",
            }
        )
    if failed:
        raise VectorStoreError(
            f"migration to {to_model!r} filled column {column!r} but did not switch: "
            + "; ".join(f"{c['check']}: {c['detail']}" for c in failed)
            + f". The active column is still {p['from_column']!r}; fix and re-run, or restore {pre_tag}"
        )
    data = lance_table.dataset(uri, name, storage_options=storage_options)
    meta = lance_table.read_meta(data)
    if meta["active_column"] != column:
        lance_table.write_meta(data, {**meta, "active_column": column})  # the switch: one commit
        faults.point("migrate.after-switch")
        data = lance_table.dataset(uri, name, storage_options=storage_options)
    if done_tag not in data.tags.list():
        data.tags.create(done_tag, data.version)
        faults.point("migrate.after-tag")
    version = data.tags.list()[done_tag]["version"]
    report = {
        **p,
        "version": version,
        "rows_embedded": embedded,
        "embed_seconds": round(embed_seconds, 3),
        **engine,
        "pre_migration_tag": pre_tag,
        "migrated_tag": done_tag,
        "checks": checks,
        "comparison": comparison,
        "rollback": f"reprostack vectors restore {pre_tag}",
    }
    if report_dir is not None:  # named after the tag: a re-run finds whether it was written
        report["report"] = str(Path(report_dir) / f"{done_tag}.json")
        write_ab_rows(Path(report_dir) / AB_FILE, done_tag, report)  # first: the report marks the end
        jsonio.write_json(report["report"], report, schema_version=1)
    return report


AB_FILE = "ab.json"  # every migration's A/B as plot rows: `dvc plots show runs/migrations/ab.json ...`


def write_ab_rows(path: Path, tag: str, report: dict) -> None:
    """Add (or replace) this migration's rows, one per column: label precision@k of the old and
    the new embedding column, and their neighbour overlap."""
    comparison = report.get("comparison") or {}
    models = {report["from_column"]: report["from_model"], report["to_column"]: report["to_model"]}
    rows = [
        {
            "migration": tag,
            "column": f"{tag}: {column} ({models.get(column)})",
            "precision_at_k": value,
            "k": comparison.get("k"),
            "neighbour_overlap": comparison.get("neighbour_overlap"),
        }
        for column, value in (comparison.get("precision_at_k") or {}).items()
    ]
    found = jsonio.read_json(path, schema_version=1)["rows"] if path.exists() else []
    jsonio.write_json(path, {"rows": [r for r in found if r["migration"] != tag] + rows}, schema_version=1)
