"""What `make repro` does before `dvc repro` (`reprostack pipeline prepare`): clear what blocks
DVC, and make DVC see what it cannot see by itself.

- git's and DVC's leftovers (a torn `.dvc/tmp/rwlock` stops every `dvc` command with "JSON
  structure is corrupted"): removed under the registry commands' rule, only when no git or dvc
  process works in the repository (core/leftovers.py).
- A vector table removed by hand (`rm -rf data/vectors`): DVC tracks only the pointer, which still
  names the lost version, so every stage "didn't change" (and DVC's run cache would put the same
  pointer back). With no store to pull it from, the pointer is removed and the embed stage run
  with `--force` here, which rebuilds the table; the `dvc repro` after it re-runs what depends on
  it. With a store configured, `store pull` (the next step of `make repro`) brings the version
  back instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reprostack.core import config, leftovers
from reprostack.core.errors import VectorStoreError

EMBED = "embed"  # the stage that writes the table (dvc.yaml)


def prepare(root: str | Path = ".") -> list[str]:
    """Returns one line per thing done."""
    from reprostack.store import remote, sync, tables

    root = Path(root)
    done = [f"removed {path}, left by a killed git or dvc" for path in leftovers.clear_stale_locks(root)]
    params = config.read_params_file(root / config.PARAMS_FILE)
    pointer = root / params.get("paths", {}).get("vectors_pointer", "data/vectors.json")
    table = tables.local_dir(root, params.get("embedding", {}))
    if table is None or not pointer.exists() or remote.find(root) is not None:
        return done
    try:
        named = json.loads(pointer.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return done  # a damaged pointer: DVC sees it changed and re-runs embed itself
    # schema 3 names the version by its content tag (a file under _refs/tags/, read without lance);
    # older pointers by its number (the store's own test of a version)
    tag, number = named.get("tag"), named.get("version")
    version = tag or number
    gone = (
        not (table / "_refs" / "tags" / f"{tag}.json").is_file()
        if tag
        else number is not None and not sync._has_version(table, number)
    )
    if gone:
        pointer.unlink()
        shown = table.relative_to(root) if table.is_relative_to(root) else table
        print(
            f"{shown} has no version {version}, which {pointer.relative_to(root)} names, and no store is "
            f"configured to pull it from: rebuilding it (`dvc repro --force --single-item {EMBED}`)",
            file=sys.stderr,
        )
        rebuilt = subprocess.run([sys.executable, "-m", "dvc", "repro", "--force", "--single-item", EMBED], cwd=root)
        if rebuilt.returncode != 0:
            raise VectorStoreError(f"rebuilding {shown} failed (above); correct what it names, then `make repro`")
        done.append(f"rebuilt {shown}, which had no version {version}: `dvc repro` re-runs what depends on it")
    return done
