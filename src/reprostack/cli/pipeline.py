"""`reprostack pipeline prepare`: what `make repro` runs before `dvc repro` (runs/prepare.py)."""

from __future__ import annotations

import argparse

from reprostack.cli._output import emit


def cmd_prepare(args: argparse.Namespace) -> int:
    from reprostack.runs import prepare

    done = prepare.prepare(".")
    emit(args, {"done": done}, lambda d: "\n".join(d["done"]) or "nothing to clear; `dvc repro` can run")
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("pipeline", help="prepare the project for `dvc repro`")
    psub = p.add_subparsers(dest="pipeline_command", metavar="COMMAND", required=True)
    q = psub.add_parser(
        "prepare",
        parents=[common],
        help="clear a killed dvc's or git's leftovers (when none runs here) and drop a vector pointer "
        "whose table is gone, so `dvc repro` rebuilds it (what `make repro` runs first)",
    )
    q.set_defaults(func=cmd_prepare)
