"""Rendering shared by the command modules: JSON or text, simple tables, the params file."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any


def emit(args: argparse.Namespace, data: Any, text: Callable[[Any], str]) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))
    else:
        out = text(data)
        if out:
            print(out)


def table(rows: list[dict], columns: list[str]) -> str:
    """Aligned columns: numbers to the right, text to the left, no trailing spaces."""
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    numeric = {
        c
        for c in columns
        if all(
            isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) or r.get(c) in (None, "", "-")
            for r in rows
        )
        and any(isinstance(r.get(c), int | float) for r in rows)
    }

    def cell(c: str, value) -> str:
        text = "" if value is None else str(value)
        return text.rjust(widths[c]) if c in numeric else text.ljust(widths[c])

    lines = ["  ".join(c.rjust(widths[c]) if c in numeric else c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(cell(c, r.get(c, "")) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def load_params(args: argparse.Namespace):
    """Commands default to the pipeline's own paths and dataset from params.yaml."""
    from reprostack.core import config

    return config.load_params(args.params)


# ---- the vector table's location, shared by cli/vectors.py and cli/vectors_migrate.py ----


def table_location(args: argparse.Namespace):
    """(uri, table name, storage options, params) from the flags or params.yaml."""
    params = load_params(args)
    emb = params.embedding
    return args.uri or emb.uri, args.table or emb.table, emb.storage_options, params


def table_ref(args: argparse.Namespace):
    from reprostack.vectors import lance_table

    if args.version is not None and args.tag is not None:
        from reprostack.core.errors import VectorStoreError

        raise VectorStoreError("give --version or --tag, not both")
    return lance_table.parse_ref(args.tag if args.tag is not None else args.version)


def table_dataset(args: argparse.Namespace, ref=None):
    """The table through pylance (fast to import); only search needs lancedb itself."""
    from reprostack.vectors import lance_table

    uri, name, options, _ = table_location(args)
    return lance_table.dataset(uri, name, ref, options)
