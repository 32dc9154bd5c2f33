"""The `reprostack` command: parse, call the library, render.

Library modules never print; these modules do. Each command group lives in its own module with a
`register(sub, common)` function. Heavy imports (torch, lancedb, sklearn) happen inside the
handlers, so `reprostack --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from reprostack import __version__
from reprostack.core.errors import ReprostackError

# We use no pydantic plugins: without this, building the first model scans every installed
# package's entry points for them (~8 ms of a promote). A user's own setting wins.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")

# command -> the module that registers it, in the order `--help` lists them
COMMANDS = {
    "params": "params",
    "snapshot": "snapshot",
    "vectors": "vectors",
    "runs": "runs",
    "verify": "verify",
    "release": "release",
    "predict": "release",
    "registry": "registry",
    "report": "report",
    "plots": "report",
    "ui": "ui",
    "serve": "serve",
    "store": "store",
    "policy": "policy",
    "provenance": "provenance",
    "gc": "gc",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; for a known `command` only its group's (what `reprostack registry promote`
    runs: importing and building every group is ~15 ms of a 0.3 s budget)."""
    parser = argparse.ArgumentParser(prog="reprostack", description="Reproducible ML pipeline tools.")
    parser.add_argument("--version", action="version", version=f"reprostack {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    common.add_argument("--traceback", action="store_true", help="show the full stack on errors")
    common.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in [COMMANDS[command]] if command in COMMANDS else dict.fromkeys(COMMANDS.values()):
        importlib.import_module(f"reprostack.cli.{module}").register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv[0] if argv else None).parse_args(argv)
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
    except Exception as exc:  # a torn table's reader error: one line, not a Rust traceback
        from reprostack.core.errors import lance_io

        found = lance_io(exc)
        if found is None or args.traceback:
            raise
        print(f"error: {found}", file=sys.stderr)
        return found.exit_code
