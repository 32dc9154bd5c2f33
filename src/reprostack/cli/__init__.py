"""The `reprostack` command: parse, call the library, render.

Library modules never print; these modules do. Each command group lives in its own module with a
`register(sub, common)` function. Heavy imports (torch, lancedb, sklearn) happen inside the
handlers, so `reprostack --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from reprostack import __version__
from reprostack.cli import params, registry, release, runs, serve, snapshot, store, vectors, verify
from reprostack.errors import ReprostackError

COMMAND_GROUPS = (params, snapshot, vectors, runs, verify, release, registry, serve, store)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reprostack", description="Reproducible ML pipeline tools.")
    parser.add_argument("--version", action="version", version=f"reprostack {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    common.add_argument("--traceback", action="store_true", help="show the full stack on errors")
    common.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
        return code
    except BrokenPipeError:
        # `reprostack ... | head`: the reader has all it wanted. Point stdout at /dev/null so the
        # interpreter's final flush cannot fail again, and exit as a process killed by SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except ReprostackError as exc:
        if args.traceback:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
