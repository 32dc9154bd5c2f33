"""One writer per table and ids unique in it, by construction (issue: an orphaned `dvc repro`
stage and a new one wrote the same table at once and left duplicate ids that nothing noticed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reprostack.core.errors import VectorStoreError
from reprostack.vectors import lance_table


@contextmanager
def table_writer(uri: str, name: str) -> Iterator[None]:
    """The table's one writer (core/writer.py): a lock beside a local table; for an object-store
    table, in the project's .dvc/tmp (one writer per project: object stores have no flock)."""
    from reprostack.core import writer

    target = Path(lance_table.table_path(uri, name)) if "://" not in uri else Path(".dvc", "tmp", f"{name}.lance")
    with writer.exclusive(target, f"the vector table {lance_table.table_path(uri, name)}"):
        yield


def duplicate_ids(data) -> list[str]:
    """Ids held by more than one row of a version of the table (a pylance dataset)."""
    from collections import Counter

    counts = Counter(data.to_table(columns=["id"]).column("id").to_pylist())
    return sorted(i for i, n in counts.items() if n > 1)


def check_written(data, before: int) -> None:
    """After a write: a duplicate id rolls the table back to `before` (a new version equal to
    it) and fails, so a write that would duplicate an id never stays."""
    dupes = duplicate_ids(data)
    if dupes:
        data.checkout_version(before).restore()
        raise VectorStoreError(
            f"writing the table would have left {len(dupes)} duplicate id(s) (e.g. {dupes[0]!r}: another "
            f"writer at the same time?); rolled back to version {before}; run `dvc repro` again"
        )


def drop_duplicates(data) -> int:
    """Delete every row of an id held more than once (a table written before ids were unique by
    construction), so the update re-embeds it once. Returns the number of ids."""
    dupes = duplicate_ids(data)
    if dupes:
        data.delete(f"id IN ({lance_table.sql_list(dupes)})")
    return len(dupes)
