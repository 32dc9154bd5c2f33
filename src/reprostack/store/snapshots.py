"""Copy the data snapshots (data/snapshots/<dataset>/<version>/, git-ignored) between this clone
and the store, so a clone made by `git clone` + `store pull` has the snapshot its pointer names
(`snapshot show`, `verify` and `dvc repro` need it) and every older one.

A snapshot never changes once made (its version is its content's digest), so a sync copies the
versions the other side lacks, whole. On the store a version's manifest.json goes last: a version
counts as there only with it. Here a pulled version is assembled in a staging directory
(the snapshot module's own `.tmp-<pid>-` name, which `verify --fix` clears after a kill) and renamed
into place, so a snapshot directory is whole or absent.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from reprostack.core import leftovers
from reprostack.store.remote import Store, explain

PREFIX = "snapshots"
MANIFEST = "manifest.json"


def local_versions(base: Path) -> dict[str, list[str]]:
    """{"<dataset>/<version>": [files relative to it]} of every complete snapshot here."""
    found = {}
    for manifest in sorted(base.glob(f"*/*/{MANIFEST}")) if base.is_dir() else []:
        version = manifest.parent
        if version.name.startswith(".") or version.parent.name.startswith("."):
            continue
        files = sorted(p.relative_to(version).as_posix() for p in version.rglob("*") if p.is_file())
        found[f"{version.parent.name}/{version.name}"] = files
    return found


def remote_versions(store: Store) -> dict[str, list[str]]:
    """The same for the store: versions whose manifest.json is there."""
    base = store.join(PREFIX)
    try:
        paths = store.fs.find(base)
    except FileNotFoundError:
        return {}
    except Exception as exc:  # noqa: BLE001 - any transport error becomes one line naming the store
        raise explain(store, exc) from None
    prefix = base.rstrip("/") + "/"
    files: dict[str, list[str]] = {}
    for path in paths:
        parts = str(path)[len(prefix) :].split("/") if str(path).startswith(prefix) else []
        if len(parts) >= 3 and not parts[-1].endswith(".tmp"):
            files.setdefault("/".join(parts[:2]), []).append("/".join(parts[2:]))
    return {key: sorted(names) for key, names in files.items() if MANIFEST in names}


def push(base: Path, store: Store) -> int:
    """Copy the versions the store lacks; the count copied."""
    theirs = remote_versions(store)
    done = 0
    for key, names in local_versions(base).items():
        if key in theirs and set(names) <= set(theirs[key]):
            continue
        ordered = [n for n in names if n != MANIFEST] + [MANIFEST]
        try:
            for name in ordered:
                store.fs.put_file(str(base / key / name), store.join(PREFIX, key, name))
        except Exception as exc:  # noqa: BLE001
            raise explain(store, exc) from None
        done += 1
    return done


def pull(base: Path, store: Store) -> int:
    """Copy the versions this clone lacks, each whole or not at all; the count copied."""
    ours = local_versions(base)
    done = 0
    for key, names in remote_versions(store).items():
        final = base / key
        if key in ours or final.exists():
            continue  # a damaged local snapshot is verify's to report, not a pull's to overwrite
        final.parent.mkdir(parents=True, exist_ok=True)
        leftovers.remove_dead_staging(final.parent)
        staging = Path(tempfile.mkdtemp(prefix=leftovers.staging_prefix(), dir=final.parent))
        try:
            for name in names:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                store.fs.get_file(store.join(PREFIX, key, name), str(staging / name))
                os.chmod(staging / name, 0o444)  # snapshots are read-only, as snapshot.create makes them
            staging.chmod(0o755)
            os.rename(staging, final)
        except Exception as exc:  # noqa: BLE001
            raise explain(store, exc) from None
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        done += 1
    return done
