"""`reprostack vectors`: versions, show, diff, restore, search, optimize (migrate, drop-column: vectors_migrate)."""

from __future__ import annotations

import argparse
import sys

from reprostack.cli._output import emit, table, table_dataset, table_location, table_ref, table_writer


def cmd_versions(args: argparse.Namespace) -> int:
    from reprostack.vectors import versions

    rows = versions.versions(table_dataset(args))
    shown = [{**r, "tags": ",".join(r["tags"]) or "-"} for r in rows]
    emit(args, rows, lambda _: table(shown, ["version", "timestamp", "rows", "operation", "tags"]))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from reprostack import api

    info = api.vectors_info(table_ref(args), uri=args.uri, table=args.table, params_file=args.params).to_json()

    def text(d):
        lines = [
            f"{d['table']} version {d['version']}  rows {d['rows']}  tags {', '.join(d['tags']) or '-'}",
            f"active column: {d['active_column']}",
        ]
        lines += [
            f"  {name}: {c['model']} ({c['dimension']} dims, fingerprint {c['fingerprint'][:12]}, "
            f"normalize {c['normalize']}, encoding {c.get('encoding', 'per-length')}, "
            f"backend {c.get('backend', 'torch')})"
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

    uri, name, options, _ = table_location(args)
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

    uri, name, options, params = table_location(args)
    with table_writer(args):
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


def _search_served(args: argparse.Namespace, ref) -> dict | None:
    """The answer of a running `serve` (--url, or the one this project announced), or None to
    search here. A discovered server that is gone or holds another encoder is passed over."""
    from reprostack.core.errors import ServeError
    from reprostack.serving import client

    url = args.url
    if url is None:
        found = None if args.local or args.uri or args.params != "params.yaml" else client.discover(".")
        if found is None:
            return None
        url = found["url"]
    body = {"text": args.text, "k": args.k, "where": args.where, "column": args.column, "table": args.table}
    try:
        result = client.call(url, "/search", {**body, "ref": "latest" if ref is None else str(ref)}, timeout=30)
    except client.Refused as exc:
        if args.url is None and exc.status in (404, 409):
            print(f"{exc}; searching here instead", file=sys.stderr, flush=True)
            return None
        raise
    except ServeError as exc:
        if args.url is not None:
            raise ServeError(f"{exc}; start it with `reprostack serve --model NAME`, or drop --url") from None
        return None
    if not args.json:
        print(f"(answered by the server at {url})", file=sys.stderr, flush=True)
    return result


def cmd_search(args: argparse.Namespace) -> int:
    from reprostack.vectors.search import check_k

    check_k(args.k)  # every argument before any table or model is opened
    ref = table_ref(args)
    result = _search_served(args, ref)
    if result is None:
        from reprostack import api

        quiet = args.json  # the load line goes to stderr, and only for people
        result = api.search_vectors(
            args.text,
            args.k,
            where=args.where,
            column=args.column,
            ref=ref,
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

    with table_writer(args):  # its cleanup would delete the files of a write in flight
        result = versions.optimize(table_dataset(args), args.older_than_days)
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


def cmd_repair(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reprostack.core import config
    from reprostack.runs import tablecheck

    done = tablecheck.fix_table(Path("."), config.load_params(config.PARAMS_FILE))
    emit(args, {"repaired": done}, lambda d: "\n".join(f"repaired {p}" for p in d["repaired"]) or "nothing torn")
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
    p.add_argument(
        "--url",
        help="ask the `reprostack serve` at this URL (it holds the encoder: milliseconds, no model load); "
        "default: the server this project runs, if any",
    )
    p.add_argument("--local", action="store_true", help="search here even if this project's server runs")
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
    p = vsub.add_parser(
        "repair",
        parents=[common],
        help="torn data files (missing, or not the recorded size): copy them back from the store, else drop "
        "their fragments in a new version (older versions and tags kept; `dvc repro --force -s embed` re-embeds)",
    )
    p.set_defaults(func=cmd_repair)
    from reprostack.cli import vectors_migrate as migration

    migration.register(vsub, base)
