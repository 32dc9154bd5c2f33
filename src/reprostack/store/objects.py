"""Whether the store holds every DVC object this commit needs, judged by a listing of the store
itself, not by DVC's own bookkeeping.

A `dvc push` killed midway, then run again, has been seen to report success while a released
model's files were missing from the store (DVC trusted what it believed the remote held). So
after DVC pushes, `store push` lists the store's files/md5/ tree, compares it with every cached
output of the commit (released models' .dvc files and the pipeline's dvc.lock outputs, a
directory expanded into its files) and uploads what is missing straight from the local cache;
whatever still lacks is an error naming it. `store status` and `verify` use the same comparison.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from reprostack.core.errors import StoreError
from reprostack.store.remote import Store, explain

OBJECTS = ("files", "md5")  # DVC 3's object layout, locally and on every remote


def wanted(root: Path, targets: list[str] | None = None) -> dict[str, str]:
    """{md5 (a directory's ends in .dir): output path} of every cached output DVC knows here
    (pipeline outputs and .dvc files), or only of the targets."""
    from dvc.repo import Repo

    found: dict[str, str] = {}
    with Repo(str(root)) as repo:
        for out in repo.index.outs:
            value = out.hash_info.value if out.hash_info else None
            if not out.use_cache or not value:
                continue
            path = Path(os.path.relpath(out.fs_path, root)).as_posix()
            if targets is None or any(path == t.rstrip("/") or path + ".dvc" == t for t in targets):
                found[value] = path
    return found


def _local_object(root: Path, md5: str) -> Path:
    return root / ".dvc" / "cache" / Path(*OBJECTS) / md5[:2] / md5[2:]


def cached(root: Path, md5: str) -> bool:
    return _local_object(root, md5).is_file()


def _remote_object(store: Store, md5: str) -> str:
    return store.join(*OBJECTS, md5[:2], md5[2:])


def listing(store: Store) -> set[str]:
    """Every object the store holds, by md5, from a listing of its files/md5/ tree."""
    base = store.join(*OBJECTS)
    try:
        paths = store.fs.find(base)
    except FileNotFoundError:
        return set()
    except Exception as exc:  # noqa: BLE001 - any transport error becomes one line naming the store
        raise explain(store, exc) from None
    held = set()
    for path in paths:
        parts = str(path).replace("\\", "/").rstrip("/").split("/")
        if len(parts) >= 2 and len(parts[-2]) == 2 and not parts[-1].endswith(".tmp"):
            held.add(parts[-2] + parts[-1])
    return held


def _entries(root: Path, store: Store | None, md5: str) -> list[dict] | None:
    """A directory object's file list, from the local cache or else the store; None if neither."""
    try:
        return json.loads(_local_object(root, md5).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    if store is None:
        return None
    try:
        return json.loads(store.fs.cat_file(_remote_object(store, md5)))
    except Exception:  # noqa: BLE001 - not on the store either
        return None


def expand(root: Path, store: Store | None, outs: dict[str, str]) -> dict[str, str]:
    """{md5: output path} of every object the outputs consist of: a directory's files, then its .dir
    object (the order DVC pushes in: a directory is complete on the store once its .dir is)."""
    found: dict[str, str] = {}
    for md5, path in outs.items():
        if md5.endswith(".dir"):
            for entry in _entries(root, store, md5) or []:
                found.setdefault(entry["md5"], path)
        found[md5] = path
    return found


def missing(root: Path, store: Store, targets: list[str] | None = None) -> dict[str, str]:
    """{md5: path} of what the commit needs that the store's own listing lacks."""
    held = listing(store)
    return {md5: path for md5, path in expand(root, store, wanted(root, targets)).items() if md5 not in held}


def upload(root: Path, store: Store, gone: dict[str, str]) -> int:
    """Copy what the store lacks from the local cache (directories' .dir objects last);
    the count copied. What the cache lacks too is left for the caller to report."""
    from reprostack.core import faults

    done = 0
    for md5 in sorted(gone, key=lambda m: m.endswith(".dir")):
        local = _local_object(root, md5)
        if not local.is_file():
            continue
        try:
            store.fs.put_file(str(local), _remote_object(store, md5))
        except Exception as exc:  # noqa: BLE001
            raise explain(store, exc) from None
        done += 1
        faults.point("store.push-object")
    return done


def describe(root: Path, gone: dict[str, str], limit: int = 3) -> str:
    """`N object(s) of <outputs>`, naming the first few outputs they belong to."""
    outputs = sorted(set(gone.values()))
    shown = ", ".join(outputs[:limit]) + (f" and {len(outputs) - limit} more" if len(outputs) > limit else "")
    return f"{len(gone)} object(s) of {shown}"


def require_complete(root: Path, store: Store, targets: list[str] | None = None) -> None:
    """After a push: the store holds everything, or one line says what is lost and why."""
    gone = missing(root, store, targets)
    if not gone:
        return
    cached = {m: p for m, p in gone.items() if _local_object(root, m).is_file()}
    if cached:  # the upload failed silently (should not happen): pushing again retries it
        raise StoreError(
            f"{store.describe()} still lacks {describe(root, cached)} after the push; "
            "fix: `reprostack store push` (again)"
        )
    if all((root / out).exists() for out in gone.values()):  # here, but the cache was emptied: cache them again
        raise StoreError(
            f"{store.describe()} lacks {describe(root, gone)}, and this clone's DVC cache lacks them too; "
            "they are here, so fix: `dvc commit --force && reprostack store push`"
        )
    raise StoreError(
        f"{store.describe()} lacks {describe(root, gone)}, and neither this clone's DVC cache nor its "
        "workspace holds them, so they cannot be pushed from here: push them from a clone that has them "
        "(`reprostack store push` there)"
    )


def changed_files(root: Path, dvcfile: Path) -> list[str] | None:
    """Files of a .dvc file's directory that differ from what `dvc add` recorded (changed,
    missing or added), by md5 against the directory's listing in the local cache; None when the
    cache lacks that listing (nothing here to compare with)."""
    import hashlib

    import yaml

    try:
        md5 = yaml.safe_load(dvcfile.read_text(encoding="utf-8"))["outs"][0]["md5"]
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return None
    entries = _entries(root, None, md5) if md5.endswith(".dir") else None
    if entries is None:
        return None
    folder = dvcfile.with_suffix("")
    recorded = {e["relpath"]: e["md5"] for e in entries}
    here = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()
    changed = sorted(here ^ recorded.keys())
    for rel in sorted(here & recorded.keys()):
        if hashlib.md5((folder / rel).read_bytes()).hexdigest() != recorded[rel]:
            changed.append(rel)
    return changed
