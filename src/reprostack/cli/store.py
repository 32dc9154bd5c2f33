"""`reprostack store`: set up, push to and pull from the shared store (the default DVC remote)."""

from __future__ import annotations

import argparse
import sys

from reprostack.cli._output import emit


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n} B"


def cmd_init(args: argparse.Namespace) -> int:
    from reprostack.store import sync

    result = sync.init(".", args.url, args.endpoint_url, args.local)
    emit(
        args,
        result,
        lambda r: (
            f"store {r['name']!r}: {r['url']}"
            + (f" at {r['endpoint']}" if r["endpoint"] else "")
            + (" (this clone only: .dvc/config.local)" if r["scope"] == "local" else " (.dvc/config: commit it)")
        ),
    )
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from reprostack.store import sync

    result = sync.push(".", jobs=args.jobs)
    emit(
        args,
        result,
        lambda r: (
            f"pushed to {r['store']}: {r['dvc_files']} DVC files"
            + (f" (+{r['repaired']} DVC had skipped)" if r["repaired"] else "")
            + f", {r['snapshots']} snapshots, table {r['table']['files']} files ({_size(r['table']['bytes'])}); "
            f"the store's listing holds every DVC object and {r['checked_table_files']} table files"
        ),
    )
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from reprostack.core.errors import ReprostackError
    from reprostack.store import remote, sync

    adopted = remote.adopt_default(".")  # a fresh clone finds the store another clone made here
    if adopted is not None:
        print(
            f"store: using this machine's store for the project, {adopted} (written to .dvc/config.local)",
            file=sys.stderr,
        )
    if args.if_configured and remote.find(".") is None:
        return 0
    try:
        result = sync.pull(".", jobs=args.jobs)
    except ReprostackError as exc:
        if not args.keep_going:
            raise
        # `make repro`: the pipeline rebuilds locally whatever the store could not provide
        print(f"warning: {exc}; continuing without the store", file=sys.stderr)
        return 0
    emit(
        args,
        result,
        lambda r: (
            f"pulled from {r['store']}: {r['snapshots']} snapshots, table {r['table']['files']} files "
            f"({_size(r['table']['bytes'])}), {r['dvc_files']} DVC outputs restored"
            + "".join(f"\n  restored {path}" for path in r["restored"])
        ),
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from reprostack.store import sync

    result = sync.status(".")

    def text(r):
        lines = [f"store: {r['store'] or 'none (run `reprostack store init`)'}"]
        if r["store"]:
            lines.append(
                f"table files not pushed: {r['table_files_not_pushed']}, not pulled: {r['table_files_not_pulled']}"
            )
            lines.append(f"DVC objects not on the store: {r['objects_not_pushed']}")
            lines.append(f"snapshots not on the store: {r['snapshots_not_pushed']}")
            lines += [f"not on the store: {p} (fix: `reprostack store push`)" for p in r["outputs_not_pushed"]]
        lines += [f"missing here: {p}" for p in r["missing_here"]]
        return "\n".join(lines)

    emit(args, result, text)
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("store", help="the shared store (DVC remote + vector table files): init, push, pull, status")
    ssub = p.add_subparsers(dest="store_command", metavar="COMMAND", required=True)
    q = ssub.add_parser(
        "init",
        parents=[common],
        help="configure the store (default: a local directory outside the repository) and create it",
    )
    q.add_argument(
        "url",
        nargs="?",
        help="s3://BUCKET/PATH or a directory (default: keep the configured store, "
        "else ~/.local/share/reprostack/stores/<project>-<root commit>)",
    )
    q.add_argument("--endpoint-url", help="S3-compatible server, e.g. http://127.0.0.1:8333")
    q.add_argument("--local", action="store_true", help="write to .dvc/config.local (this clone only)")
    q.set_defaults(func=cmd_init)
    for name, func, text in (
        ("push", cmd_push, "push DVC outputs and the vector table's new files"),
        ("pull", cmd_pull, "pull DVC outputs and the vector table's files"),
    ):
        q = ssub.add_parser(name, parents=[common], help=text)
        q.add_argument("-j", "--jobs", type=int, help="parallel transfers (default: DVC's)")
        if name == "pull":
            q.add_argument("--if-configured", action="store_true", help="do nothing when no store is configured")
            q.add_argument(
                "--keep-going",
                action="store_true",
                help="on a store error, warn and exit 0 (the pipeline rebuilds locally)",
            )
        q.set_defaults(func=func)
    q = ssub.add_parser("status", parents=[common], help="which store, what is missing here or not pushed")
    q.set_defaults(func=cmd_status)
