"""`reprostack vectors migrate` and `drop-column`: move the table to another embedding model."""

from __future__ import annotations

import argparse
import sys

from reprostack.cli._output import emit, table, table_dataset, table_location, table_writer


def check_args(args: argparse.Namespace) -> None:
    """Refuse bad numbers before anything is read or loaded (a model load is seconds)."""
    from reprostack.core.errors import VectorStoreError

    if args.batch_size <= 0:
        raise VectorStoreError(f"--batch-size must be a positive number of rows, got {args.batch_size}")
    if args.k <= 0:
        raise VectorStoreError(f"-k must be a positive number of neighbours, got {args.k}")
    if not 0 <= args.max_precision_drop <= 1:
        raise VectorStoreError(f"--max-precision-drop must be from 0 to 1, got {args.max_precision_drop}")


def cmd_migrate(args: argparse.Namespace) -> int:
    check_args(args)
    from reprostack.model import backends, embedding
    from reprostack.vectors import migrate

    def say(line: str) -> None:  # progress for people, on stderr; --json stays one document
        if not args.json:
            print(line, file=sys.stderr, flush=True)

    uri, name, options, params = table_location(args)
    emb = params.embedding
    backends.require(emb.backend, "reprostack vectors migrate", args.to)
    resolved = embedding.resolve(args.to, revision=emb.revision if args.to == emb.model else None)
    fingerprint = embedding.fingerprint(resolved.path)
    if args.dry_run:
        plan = migrate.plan(
            uri,
            name,
            args.to,
            fingerprint,
            emb.normalize,
            options,
            f"{params.paths.runs}/migrations",
            emb.encoding,
            emb.backend,
        )
        emit(
            args,
            {"dry_run": True, **plan},
            lambda d: (
                f"would {'resume filling' if d['resuming'] else 'add'} column {d['to_column']} for {d['to_model']} "
                f"beside {d['from_column']} ({d['from_model']}): {d['rows_to_embed']} of {d['rows']} rows to embed; "
                "nothing written"
            ),
        )
        return 0
    encode = embedding.lazy_encoder(
        resolved,
        emb.device,
        emb.batch_size,
        emb.normalize,
        params.seed,
        params.threads,
        progress=not args.json,
        scheme=emb.encoding,
        backend=emb.backend,
    )
    backfill = None
    if (args.engine or emb.engine) == "ray":
        from reprostack.cluster import backfill as cluster
        from reprostack.cluster import encode as cluster_encode

        # the Ray engine's encoder (its config checks, e.g. cuda without GPUs), for its factory
        make_encoder = cluster_encode.ray_encoder(resolved, emb, params.seed, params.threads).make_encoder

        def backfill(uri, name, column, checkpoint):
            return cluster.backfill(
                uri, name, column, make_encoder, emb.ray, params.threads, emb.ray.batch_size, options, checkpoint
            )

    with table_writer(args):
        report = migrate.migrate(
            uri,
            name,
            args.to,
            fingerprint,
            emb.normalize,
            encode,
            batch_size=args.batch_size,
            k=args.k,
            max_precision_drop=args.max_precision_drop,
            storage_options=options,
            report_dir=f"{params.paths.runs}/migrations",
            encoding=emb.encoding,
            backfill=backfill,
            backend=emb.backend,
            on_progress=say,
        )

    def text(d):
        c = d["comparison"]
        rows = [
            {"": key, d["from_column"]: str(c[key][d["from_column"]]), d["to_column"]: str(c[key][d["to_column"]])}
            for key in ("dimension", "precision_at_k")
        ]
        return "\n".join(
            [
                f"migrated {d['table']} to {d['to_model']}: column {d['to_column']} is active (version {d['version']})",
                f"embedded {d['rows_embedded']} rows in {d['embed_seconds']} s ({d['engine']}"
                + (f", {d['fragments']} fragments on {d['actors']} actors, one commit" if d["engine"] == "ray" else "")
                + "); checks: "
                + ", ".join(f"{x['check']} ok" for x in d["checks"]),
                f"A/B on {c['queries']} labelled rows, k={c['k']} (neighbour overlap {c['neighbour_overlap']}):",
                table(rows, ["", d["from_column"], d["to_column"]]),
                f"report: {d['report']}",
                f"rollback: {d['rollback']}; the old column stays until "
                f"`reprostack vectors drop-column {d['from_column']}`",
                f"next: set embedding.model to {d['to_model']!r} in conf/ and run `dvc repro` (it embeds nothing)",
            ]
        )

    emit(args, report, text)
    return 0


def cmd_drop_column(args: argparse.Namespace) -> int:
    from reprostack import vectors
    from reprostack.core.errors import ReprostackError
    from reprostack.vectors import versions

    _, _, _, params = table_location(args)
    try:
        pinned = vectors.read_vectors_pointer(params.paths.vectors_pointer).vector_column
    except ReprostackError:
        pinned = None  # no pipeline run yet: nothing reads a column
    with table_writer(args):
        result = versions.drop_column(table_dataset(args), args.column, pinned=pinned)
    emit(args, result, lambda d: f"dropped column {d['dropped']}; version {d['version']}")
    return 0


def register(vsub, base: argparse.ArgumentParser) -> None:
    """The migrate and drop-column actions of `reprostack vectors` (cli/vectors.py registers them)."""
    p = vsub.add_parser("migrate", parents=[base], help="re-embed into a new column with another model, verify, switch")
    p.add_argument("--to", required=True, help="embedding model: a packaged hub name or a local model directory")
    p.add_argument("--dry-run", action="store_true", help="say what would happen; write nothing")
    p.add_argument("--batch-size", type=int, default=1024, help="rows per committed batch (default 1024)")
    p.add_argument("-k", type=int, default=10, help="neighbours for the label precision@k comparison (default 10)")
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        help="where to embed (default: embedding.engine); ray backfills on embedding.ray's cluster",
    )
    p.add_argument(
        "--max-precision-drop",
        type=float,
        default=0.05,
        help="refuse to switch if precision@k falls by more than this (default 0.05)",
    )
    p.set_defaults(func=cmd_migrate)
    p = vsub.add_parser("drop-column", parents=[base], help="remove an inactive vector column (after a migration)")
    p.add_argument("column")
    p.set_defaults(func=cmd_drop_column)
