"""verify's look at the vector table's files (local tables): the pinned version's manifest exists
and every data file it names is here at the size its manifest recorded. One line each, instead
of the reader's Rust IO traceback, and a fix that keeps the table's history: `vectors repair`
(and `verify --fix`) restores torn files from the store when it holds them (fix_table), else drops the torn
fragments in a new version, after which the pipeline re-embeds their rows.
"""

from __future__ import annotations

from pathlib import Path

from reprostack.core import config
from reprostack.core.errors import ReprostackError

REBUILD_TABLE = "rm -rf {table_dir} && dvc repro --force"  # no manifest left: older versions are lost with it
REPLACE_TABLE = "mv {table_dir} {table_dir}.corrupt && dvc repro --force"  # kept aside, not deleted
RESTORE = "reprostack vectors repair"  # also part of `verify --fix`
DROP_AND_REBUILD = "reprostack vectors repair && dvc repro --force -s embed && dvc repro"


def _pinned(root: Path, params: config.Params):
    from reprostack import vectors

    pointer = vectors.read_vectors_pointer(root / params.paths.vectors_pointer)
    uri = pointer.uri if "://" in pointer.uri or Path(pointer.uri).is_absolute() else str(root / pointer.uri)
    return pointer.model_copy(update={"uri": uri})


def _on_store(root: Path, params: config.Params) -> tuple[object, dict[str, int]] | None:
    """The store and its listing of the table, when a store is configured and answers."""
    from reprostack.store import remote, tables

    try:
        store = remote.find(root)
        if store is None:
            return None
        remote.check(store)
        return store, tables.remote_files(store, tables.remote_dir(store, params.embedding.model_dump()))
    except ReprostackError:
        return None


def table_dir_shown(root: Path, pointer) -> Path:
    from reprostack.vectors import lance_table

    table_dir = Path(lance_table.table_path(pointer.uri, pointer.table))
    return table_dir.relative_to(root) if table_dir.is_relative_to(root) else table_dir


def check_table_files(root: Path, params: config.Params) -> list[str]:
    from reprostack.vectors import lance_table, repair
    from reprostack.vectors import pointer as vpointer

    pointer = _pinned(root, params)
    if "://" in pointer.uri:
        return []
    table_dir = Path(lance_table.table_path(pointer.uri, pointer.table))
    shown = table_dir.relative_to(root) if table_dir.is_relative_to(root) else table_dir
    try:
        data = vpointer.open_version(pointer)  # through its content tag (schema 3 has no number)
    except ReprostackError as exc:
        fix = REBUILD_TABLE.format(table_dir=shown)
        return [f"{exc.args[0].split(';')[0]} (its manifest under {table_dir.name}/_versions/ is gone); fix: `{fix}`"]
    torn = repair.torn_files(table_dir, data)
    if not torn:
        return []
    found = _on_store(root, params)
    restorable = found is not None and all(found[1].get(t.path) == t.recorded for t in torn if t.recorded)
    fix = (
        f"fix: `{RESTORE}` (copies them back from {found[0].describe()})"
        if restorable
        else f"no store holds them; fix: `{DROP_AND_REBUILD}` (a new table version without the torn "
        "fragments, older versions and tags kept, then their rows re-embedded)"
    )
    more = f" and {len(torn) - 1} more" if len(torn) > 1 else ""
    return [f"table {pointer.table!r} version {data.version} is torn: {shown}/{torn[0].describe()}{more}; {fix}"]


def fix_table(root: Path, params: config.Params) -> list[str]:
    """verify --fix: torn files of the pinned, latest and tagged versions copied back from the
    store where it holds them at their size; the fragments of the rest dropped from the latest."""
    from reprostack.store import tables
    from reprostack.vectors import lance_table, repair
    from reprostack.vectors import pointer as vpointer

    try:
        pointer = _pinned(root, params)
    except ReprostackError:
        return []
    if "://" in pointer.uri:
        return []
    table_dir = Path(lance_table.table_path(pointer.uri, pointer.table))
    try:
        broken = repair.versions_using(table_dir, pointer.uri, pointer.table)
        pinned = vpointer.open_version(pointer)
    except ReprostackError:
        return []
    torn = {t.path: t for t in repair.torn_files(table_dir, pinned)}
    torn.update({t.path: t for files in broken.values() for t in files})
    if not torn:
        return []
    done = []
    found = _on_store(root, params)
    if found is not None:
        store, listing = found
        good = [p for p, t in torn.items() if t.recorded and listing.get(p) == t.recorded]
        for rel in tables.fetch_files(root, store, params.embedding.model_dump(), good):
            done.append(f"{table_dir.name}/{rel} (copied back from {store.describe()})")
            torn.pop(rel)
    if torn:
        version = repair.drop_fragments(table_dir, sorted({t.fragment_id for t in torn.values()}))
        done += [f"{table_dir.name}/{p} (its fragment dropped in version {version})" for p in sorted(torn)]
        still = {v for v, files in broken.items() if any(f.path in torn for f in files)} | {pinned.version}
        done += [
            f"content tag {t} (on a torn version; embed re-makes it)" for t in repair.untag_content(table_dir, still)
        ]
    return done
