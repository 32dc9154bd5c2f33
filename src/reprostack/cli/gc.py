"""`reprostack gc`: reclaim disk from what nothing kept reaches, through a journal."""

from __future__ import annotations

import argparse

from reprostack.cli._output import emit


def _human(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def cmd_gc(args: argparse.Namespace) -> int:
    from reprostack import api

    found = api.collect_garbage(
        dry_run=args.dry_run, keep_runs=args.keep_runs, keep_production=args.keep_production, params_file=args.params
    ).to_json()

    def text(r):
        lines = [f"removed {r['finished']}"] if r["finished"] else []
        for store, total in r["bytes"].items():
            mine = [i for i in r["items"] if i["store"] == store]
            note = f" ({r['notes'][store]})" if store in r["notes"] else ""
            verb = "would free" if r["dry_run"] else "freed"
            lines.append(f"{store}: {len(mine)} items, {verb} {_human(total)}{note}")
            lines += [f"  {i['key']}  {_human(i['size'])}  {i['reason']}" for i in mine]
        total = sum(r["bytes"].values())
        kept = ", ".join(f"{v} {k}" for k, v in r["kept"].items())
        word = "would reclaim" if r["dry_run"] else "reclaimed"
        lines.append(f"gc {word} {_human(total)} ({total} bytes); kept: {kept}")
        return "\n".join(lines)

    emit(args, found, text)
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "gc",
        parents=[common],
        help="remove what no kept version, run or tag reaches (DVC cache and store, table versions, snapshots)",
    )
    p.add_argument("--dry-run", action="store_true", help="list each item with its size and reason; delete nothing")
    p.add_argument("--keep-runs", type=int, default=1, help="keep the outputs of the newest N run records (default 1)")
    p.add_argument(
        "--keep-production", type=int, default=3, help="keep the last N production holders for rollback (default 3)"
    )
    p.set_defaults(func=cmd_gc)
