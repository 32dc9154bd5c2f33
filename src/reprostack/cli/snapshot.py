"""`reprostack snapshot`: create, list, show, verify and diff data snapshots."""

from __future__ import annotations

import argparse

from reprostack.cli._output import emit, load_params, table


def cmd_snapshot_create(args: argparse.Namespace) -> int:
    from reprostack import api

    snap = api.create_snapshot(
        args.source,
        args.dataset,
        label=args.label,
        notes=args.notes,
        link=args.link,
        repair=args.repair,
        params_file=args.params,
    )
    emit(args, snap.fields(), lambda d: f"snapshot {d['dataset']}/{d['version']} at {d['path']}")
    return 0


def cmd_snapshot_list(args: argparse.Namespace) -> int:
    from reprostack import api

    rows = [info.to_json() for info in api.list_snapshots(params_file=args.params)]
    shown = [{**r, "labels": ",".join(r["labels"]) or "-"} for r in rows]
    emit(
        args,
        rows,
        lambda _: table(shown, ["dataset", "version", "labels", "file_count", "total_size_bytes", "created_utc"]),
    )
    return 0


def _snapshot_dir(args: argparse.Namespace, ref: str | None):
    """A version, a label or a directory; no ref means the pipeline's current snapshot."""
    from reprostack.data import refs, snapshot

    params = load_params(args)
    if ref is None:
        return refs.read_snapshot_pointer(params.paths.snapshot_pointer).path
    return snapshot.locate(params.paths.snapshots, args.dataset or params.data.name, ref)


def cmd_snapshot_show(args: argparse.Namespace) -> int:
    from reprostack.data import manifest

    emit(
        args,
        manifest.load(_snapshot_dir(args, args.snapshot)).to_json(),
        lambda m: "\n".join(
            [
                f"{m['dataset']}/{m['version']}  digest {m['digest']}  created {m['created_utc']}",
                f"{m['file_count']} files, {m['total_size_bytes']} bytes, from {m['source']}",
            ]
            + [f"  {f['sha256'][:12]}  {f['size_bytes']:>12}  {f['path']}" for f in m["files"]]
        ),
    )
    return 0


def cmd_snapshot_verify(args: argparse.Namespace) -> int:
    from reprostack.data import snapshot

    path = _snapshot_dir(args, args.snapshot)
    problems = snapshot.verify(path)
    emit(
        args,
        {"snapshot": str(path), "ok": not problems, "problems": problems},
        lambda d: f"{d['snapshot']}: ok" if d["ok"] else "\n".join([f"{d['snapshot']}: FAILED"] + d["problems"]),
    )
    return 0 if not problems else 1


def cmd_snapshot_diff(args: argparse.Namespace) -> int:
    from reprostack.data import snapshot

    changes = snapshot.diff(_snapshot_dir(args, args.a), _snapshot_dir(args, args.b))
    emit(
        args,
        changes,
        lambda d: (
            "\n".join(
                [
                    f"{sign} {path}"
                    for key, sign in (("added", "+"), ("removed", "-"), ("changed", "M"))
                    for path in d[key]
                ]
            )
            or "no differences"
        ),
    )
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    snap = sub.add_parser("snapshot", help="immutable data snapshots")
    ssub = snap.add_subparsers(dest="action", metavar="ACTION", required=True)
    snap_common = argparse.ArgumentParser(add_help=False, parents=[common])
    snap_common.add_argument("--dataset", help="dataset name (default: data.name)")
    p = ssub.add_parser("create", parents=[snap_common], help="snapshot a directory (default: data.raw_dir)")
    p.add_argument("--source", help="directory to snapshot (default: data.raw_dir)")
    p.add_argument("--label", help="a human name for this snapshot, e.g. v0.1 (immutable)")
    p.add_argument(
        "--link",
        choices=["copy", "hardlink"],
        help="copy: reflink or copy, never an alias (default: data.link); hardlink: shares raw's inode",
    )
    p.add_argument(
        "--repair", action="store_true", help="replace an existing snapshot of the same content that fails verification"
    )
    p.add_argument("--notes", default="", help="free text stored in the manifest")
    p.set_defaults(func=cmd_snapshot_create)
    p = ssub.add_parser("list", parents=[common], help="list snapshots with their labels")
    p.set_defaults(func=cmd_snapshot_list)
    for name, func, text in (
        ("show", cmd_snapshot_show, "print a snapshot's manifest"),
        ("verify", cmd_snapshot_verify, "re-read and re-hash every file; exit 1 on any change"),
    ):
        p = ssub.add_parser(name, parents=[snap_common], help=text)
        p.add_argument("snapshot", nargs="?", help="version, label or directory (default: the pipeline's current one)")
        p.set_defaults(func=func)
    p = ssub.add_parser("diff", parents=[snap_common], help="files added, removed and changed from A to B")
    p.add_argument("a", help="version, label or directory")
    p.add_argument("b", help="version, label or directory")
    p.set_defaults(func=cmd_snapshot_diff)
