"""`reprostack vectors`: versions, show, diff, restore, search, optimize, migrate, drop-column."""

from __future__ import annotations

import argparse
import sys

from reprostack.cli._output import emit, load_params, table


def _where(args: argparse.Namespace):
    """(uri, table name, storage options, params) from the flags or params.yaml."""
    params = load_params(args)
    emb = params.embedding
    return args.uri or emb.uri, args.table or emb.table, emb.storage_options, params


def _ref(args: argparse.Namespace):
    from reprostack.vectors import lance_table

    if args.version is not None and args.tag is not None:
        from reprostack.core.errors import VectorStoreError

        raise VectorStoreError("give --version or --tag, not both")
    return lance_table.parse_ref(args.tag if args.tag is not None else args.version)


def _dataset(args: argparse.Namespace, ref=None):
    """The table through pylance (fast to import); only search needs lancedb itself."""
    from reprostack.vectors import lance_table

    uri, name, options, _ = _where(args)
    return lance_table.dataset(uri, name, ref, options)


def cmd_versions(args: argparse.Namespace) -> int:
    from reprostack.vectors import versions

    rows = versions.versions(_dataset(args))
    shown = [{**r, "tags": ",".join(r["tags"]) or "-"} for r in rows]
    emit(args, rows, lambda _: table(shown, ["version", "timestamp", "rows", "operation", "tags"]))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from reprostack import api

    info = api.vectors_info(_ref(args), uri=args.uri, table=args.table, params_file=args.params).to_json()

    def text(d):
        lines = [
            f"{d['table']} version {d['version']}  rows {d['rows']}  tags {', '.join(d['tags']) or '-'}",
            f"active column: {d['active_column']}",
        ]
        lines += [
            f"  {name}: {c['model']} ({c['dimension']} dims, fingerprint {c['fingerprint'][:12]}, "
            f"normalize {c['normalize']})"
            for name, c in sorted(d["columns"].items())
        ]
        lines += [f"index {i['name']}: {i['type']} on {', '.join(i['columns'])}" for i in d["indices"]] or [
            "no ANN index"
        ]
        return "\n".join(lines)

    emit(args, info, text)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from reprostack.vectors import lance_table, versions

    uri, name, options, _ = _where(args)
    changes = versions.diff(uri, name, lance_table.parse_ref(args.a), lance_table.parse_ref(args.b), options)
    emit(
        args,
        changes,
        lambda d: "\n".join(
            [
                f"{len(d['added'])} added, {len(d['removed'])} removed, {len(d['changed'])} changed from "
                f"{d['a']} to {d['b']}"
            ]
            + [
                f"{sign} {row_id}"
                for key, sign in (("added", "+"), ("removed", "-"), ("changed", "M"))
                for row_id in d[key][: args.limit]
            ]
        ),
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from reprostack.vectors import lance_table, versions

    uri, name, options, params = _where(args)
    result = versions.restore(
        uri,
        name,
        lance_table.parse_ref(args.ref),
        params.embedding.index_type,
        params.embedding.index_min_rows,
        options,
    )
    emit(
        args,
        result,
        lambda d: (
            f"restored version {d['restored']} as new version {d['version']}"
            + ("; ANN index rebuilt" if d["index_rebuilt"] else "")
        ),
    )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from reprostack import api

    quiet = args.json  # the load line goes to stderr, and only for people
    result = api.search_vectors(
        args.text,
        args.k,
        where=args.where,
        column=args.column,
        ref=_ref(args),
        uri=args.uri,
        table=args.table,
        params_file=args.params,
        on_load=None if quiet else lambda line: print(line, file=sys.stderr, flush=True),
    ).to_json()
    emit(
        args,
        result,
        lambda d: (
            table(
                [{**r, "distance": f"{r['distance']:.4f}"} for r in d["results"]], ["distance", "id", "label", "text"]
            )
            + f"\n(version {d['version']}, column {d['column']}, {'ANN index' if d['index_used'] else 'exact scan'}, "
            f"{d['seconds'] * 1000:.1f} ms)"
        ),
    )
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from reprostack.vectors import versions

    result = versions.optimize(_dataset(args), args.older_than_days)
    emit(
        args,
        result,
        lambda d: (
            f"compacted {d['fragments_removed']} fragments into {d['fragments_added']}; "
            f"removed {d['versions_removed']} untagged versions ({d['bytes_removed']} bytes); "
            f"{d['versions_after']} versions left, latest {d['version']}"
        ),
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from reprostack.model import embedding
    from reprostack.vectors import migrate

    uri, name, options, params = _where(args)
    emb = params.embedding
    resolved = embedding.resolve(args.to, revision=emb.revision if args.to == emb.model else None)
    fingerprint = embedding.fingerprint(resolved.path)
    if args.dry_run:
        plan = migrate.plan(
            uri, name, args.to, fingerprint, emb.normalize, options, f"{params.paths.runs}/migrations", emb.encoding
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

    _, _, _, params = _where(args)
    try:
        pinned = vectors.read_vectors_pointer(params.paths.vectors_pointer).vector_column
    except ReprostackError:
        pinned = None  # no pipeline run yet: nothing reads a column
    result = versions.drop_column(_dataset(args), args.column, pinned=pinned)
    emit(args, result, lambda d: f"dropped column {d['dropped']}; version {d['version']}")
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    vec = sub.add_parser("vectors", help="the versioned LanceDB table: history, search, model migration")
    vsub = vec.add_subparsers(dest="action", metavar="ACTION", required=True)
    base = argparse.ArgumentParser(add_help=False, parents=[common])
    base.add_argument("--uri", help="LanceDB location (default: embedding.uri)")
    base.add_argument("--table", help="table name (default: embedding.table)")
    at = argparse.ArgumentParser(add_help=False)
    at.add_argument("--version", help="a table version number (default: the latest)")
    at.add_argument("--tag", help="a table tag, e.g. run-<run id> or pre-migrate-...")

    p = vsub.add_parser("versions", parents=[base], help="every version with time, rows, operation and tags")
    p.set_defaults(func=cmd_versions)
    p = vsub.add_parser("show", parents=[base, at], help="one version: rows, vector columns and models, indices")
    p.set_defaults(func=cmd_show)
    p = vsub.add_parser("diff", parents=[base], help="rows added, removed and changed from A to B")
    p.add_argument("a", help="version or tag")
    p.add_argument("b", help="version or tag")
    p.add_argument("--limit", type=int, default=20, help="ids listed per kind in text output (default 20)")
    p.set_defaults(func=cmd_diff)
    p = vsub.add_parser("restore", parents=[base], help="make an old version the latest again (a new version; no copy)")
    p.add_argument("ref", help="version or tag")
    p.set_defaults(func=cmd_restore)
    p = vsub.add_parser("search", parents=[base, at], help="nearest texts to a query")
    p.add_argument("text", help="the query text")
    p.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    p.add_argument("--where", help="SQL filter on the rows, e.g. \"label = 'sport'\"")
    p.add_argument("--column", help="vector column (default: the active one)")
    p.set_defaults(func=cmd_search)
    p = vsub.add_parser(
        "optimize",
        parents=[base],
        help="compact files, update indices, drop untagged old versions and crash leftovers "
        "(do not run while another process writes to the table)",
    )
    p.add_argument(
        "--older-than-days",
        type=float,
        default=7.0,
        help="keep untagged versions newer than this (default 7); tagged versions are always kept",
    )
    p.set_defaults(func=cmd_optimize)
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
