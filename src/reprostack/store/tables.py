"""Copy the vector table's Lance files between this clone and the store.

A Lance table is a directory of files that never change once written: data fragments, deletion
files, indices and transactions are named by uuid, and each version is one manifest under
_versions/, written once. So a sync copies the files the other side lacks, by name, with no
diffing. Manifests (and tags) go last: a version becomes visible, on the store or here, only
once every file it names is there. A pull killed midway leaves only whole files (each is
downloaded to a temporary name and renamed) and no manifest without its data, so the next pull
simply copies the rest.

Two clones that both wrote a version N of the same table between syncs have diverged; a push
or pull that finds the other side's version N differing from ours stops and says so.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from reprostack.core.errors import StoreError
from reprostack.store.remote import Store, explain

PREFIX = "lance"
LAST = ("_versions/", "_refs/")  # what makes a version (or a tag) visible: copied after the rest


def local_dir(root: Path, emb: dict) -> Path | None:
    """The table's directory here, or None when embedding.uri is itself remote (s3://...)."""
    uri = emb.get("uri") or ""
    if "://" in uri:
        return None
    base = Path(uri) if Path(uri).is_absolute() else root / uri
    return base / f"{emb['table']}.lance"


def remote_dir(store: Store, emb: dict) -> str:
    return store.join(PREFIX, f"{emb['table']}.lance")


def _skip(rel: str) -> bool:
    # Lance's own temporary files; _latest.manifest (old naming scheme) is rewritten in place
    return any(part.startswith((".tmp", "_tmp")) for part in rel.split("/")) or rel.endswith("_latest.manifest")


def local_files(table: Path) -> dict[str, int]:
    files = {}
    for dirpath, _, names in os.walk(table):
        for name in names:
            path = Path(dirpath, name)
            rel = path.relative_to(table).as_posix()
            if not _skip(rel):
                files[rel] = path.stat().st_size
    return files


def remote_files(store: Store, rdir: str) -> dict[str, int]:
    try:
        found = store.fs.find(rdir, detail=True)
    except FileNotFoundError:
        return {}
    except Exception as exc:  # noqa: BLE001
        raise explain(store, exc) from None
    files = {}
    prefix = rdir.rstrip("/") + "/"
    for path, info in found.items() if isinstance(found, dict) else ((p, store.fs.info(p)) for p in found):
        rel = path[len(prefix) :] if path.startswith(prefix) else path.rsplit(rdir, 1)[-1].lstrip("/")
        if info.get("type", "file") != "directory" and rel and not _skip(rel):
            files[rel] = int(info.get("size") or 0)
    return files


def _order(names) -> list[list[str]]:
    names = sorted(names)
    return [[n for n in names if not n.startswith(LAST)], [n for n in names if n.startswith(LAST)]]


def _version(name: str) -> int:
    """The table version a manifest name holds: plain, or Lance's descending scheme (u64 max - v)."""
    number = int(name.rsplit("/", 1)[-1].split(".")[0])
    return (1 << 64) - 1 - number if number >= 1 << 63 else number


def _check_diverged(ours: dict, theirs: dict, table: Path, store: Store, rdir: str, name: str) -> None:
    """The newest version both sides hold must be the same bytes; if the histories split at any
    earlier version, the newest common one differs too (each write has its own uuids and time)."""
    common = [n for n in ours.keys() & theirs.keys() if n.startswith("_versions/") and n.endswith(".manifest")]
    if not common:
        return
    newest = max(common, key=_version)
    try:
        same = store.fs.fs.cat_file(f"{rdir}/{newest}") == (table / newest).read_bytes()
    except Exception as exc:  # noqa: BLE001
        raise explain(store, exc) from None
    if not same:
        raise StoreError(
            f"table {name!r} has diverged from {store.describe()}: version {_version(newest)} differs "
            "(another clone wrote the same version number); keep one history: move this clone's "
            "table aside, run `reprostack store pull`, then `dvc repro --force -s embed`"
        )


def push(root: Path, store: Store, emb: dict, jobs: int | None = None) -> dict:
    from reprostack.core import faults

    table = local_dir(root, emb)
    if table is None or not table.is_dir():
        return {"files": 0, "bytes": 0}
    ours, rdir = local_files(table), remote_dir(store, emb)
    theirs = remote_files(store, rdir)
    _check_diverged(ours, theirs, table, store, rdir, emb["table"])
    missing = unpushed(ours, theirs)
    for batch in _order(missing):
        if batch:
            try:
                store.fs.put([str(table / n) for n in batch], [f"{rdir}/{n}" for n in batch], batch_size=jobs)
            except Exception as exc:  # noqa: BLE001
                raise explain(store, exc) from None
        faults.point("store.push-table")
    return {"files": len(missing), "bytes": sum(ours[n] for n in missing)}


def unpushed(ours: dict[str, int], theirs: dict[str, int]) -> list[str]:
    """Files the store lacks, or holds at another size (a copy cut short by a store that does
    not write atomically); a manifest of another size is a diverged history, checked apart."""
    return [n for n in ours if n not in theirs or (theirs[n] != ours[n] and not n.startswith(LAST))]


def require_complete(root: Path, store: Store, emb: dict) -> int:
    """After a push: the store's listing holds every file of the local table, at its size; the
    count checked."""
    table = local_dir(root, emb)
    if table is None or not table.is_dir():
        return 0
    ours = local_files(table)
    gone = unpushed(ours, remote_files(store, remote_dir(store, emb)))
    if gone:
        raise StoreError(
            f"{store.describe()} still lacks {len(gone)} file(s) of table {emb['table']!r} after the push "
            f"({gone[0]}); fix: `reprostack store push` (again)"
        )
    return len(ours)


def pull(root: Path, store: Store, emb: dict, jobs: int | None = None) -> dict:
    from reprostack.core import faults

    table = local_dir(root, emb)
    if table is None:
        return {"files": 0, "bytes": 0}
    rdir = remote_dir(store, emb)
    theirs = remote_files(store, rdir)
    ours = local_files(table) if table.is_dir() else {}
    _check_diverged(ours, theirs, table, store, rdir, emb["table"])
    missing = [n for n in theirs if n not in ours]
    # downloads land beside the table first (same filesystem: the rename is atomic); a kill -9
    # leaves only this scratch directory, which the next pull clears
    for stale in table.parent.glob(".tmp-pull-*"):
        shutil.rmtree(stale, ignore_errors=True)
    scratch = table.parent / f".tmp-pull-{os.getpid()}"
    try:
        for batch in _order(missing):
            if not batch:
                continue
            temps = [str(scratch / n) for n in batch]
            try:
                store.fs.get([f"{rdir}/{n}" for n in batch], temps, batch_size=jobs)
            except Exception as exc:  # noqa: BLE001
                raise explain(store, exc) from None
            for n, temp in zip(batch, temps):
                (table / n).parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp, table / n)
                faults.point("store.pull-file")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"files": len(missing), "bytes": sum(theirs[n] for n in missing)}


def fetch_files(root: Path, store: Store, emb: dict, names: list[str]) -> list[str]:
    """Copy these files of the table from the store over the ones here (torn copies: `verify
    --fix`), each downloaded beside the table and renamed over; the names copied."""
    table = local_dir(root, emb)
    if table is None or not names:
        return []
    rdir = remote_dir(store, emb)
    scratch = table.parent / f".tmp-pull-{os.getpid()}"
    try:
        for n in names:
            temp = scratch / n
            temp.parent.mkdir(parents=True, exist_ok=True)
            try:
                store.fs.get_file(f"{rdir}/{n}", str(temp))
            except Exception as exc:  # noqa: BLE001
                raise explain(store, exc) from None
            os.replace(temp, table / n)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return list(names)
