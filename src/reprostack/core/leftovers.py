"""Leftovers of killed processes: found, named, and removed only when nothing can own them.

Ours:
- Snapshot staging directories (`data/snapshots/<ds>/.tmp-<pid>-*`) carry their creator's pid:
  one whose process is gone is garbage, whoever looks (the next `snapshot create` or stage).
- Atomic-write temp files (`.<name>.*.tmp`, jsonio) of the pipeline's own outputs: only DVC
  stages write those paths and DVC runs one stage of a repository at a time, so the next
  stage run may remove them all.
- Lance temp files of an interrupted table write (`<table>.lance/**/.tmp*`): removed by
  `reprostack verify --fix` or `vectors optimize`, never by a stage, because a `vectors migrate`
  may be writing beside it.

git's and DVC's (removed by every registry command and `verify`, once nobody works here):
- git: lock files (index, HEAD, packed-refs, refs) that make every later git command refuse.
- DVC: `.dvc/tmp/rwlock`, which DVC rewrites in place (truncate, then write) on every command; a
  kill between the two leaves it empty, and every later `dvc` command then stops with "Unable to
  read RWLock-file ... JSON structure is corrupted" until it is removed. Entries of dead
  processes in a readable rwlock DVC removes itself, so only an unreadable one is ours to
  remove; with no DVC running there is nothing it could be protecting.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from reprostack.core.errors import RegistryError
from reprostack.core.git import git_dir

STAGING = ".tmp-"
DVC_RWLOCK = Path(".dvc") / "tmp" / "rwlock"


def staging_prefix() -> str:
    return f"{STAGING}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def dead_staging(directory: str | Path) -> list[Path]:
    """Staging directories under `directory` whose creating process is gone (or unknown: names
    without a pid come from older versions, which never left one behind on purpose)."""
    found = []
    for entry in sorted(Path(directory).glob(f"{STAGING}*")) if Path(directory).is_dir() else []:
        pid = entry.name[len(STAGING) :].split("-", 1)[0]
        if not (pid.isdigit() and _alive(int(pid))):
            found.append(entry)
    return found


def remove_dead_staging(directory: str | Path) -> list[Path]:
    found = dead_staging(directory)
    for path in found:
        remove(path)
    return found


def temp_files_of(paths: Iterable[str | Path]) -> list[Path]:
    """jsonio's temp files (`.<name>.<random>.tmp`) beside each of `paths`."""
    found: set[Path] = set()
    for path in map(Path, paths):
        if path.parent.is_dir():
            found.update(p for p in path.parent.glob(f".{path.name}.*.tmp") if p.is_file())
    return sorted(found)


def lance_temp_files(table_dir: str | Path) -> list[Path]:
    table_dir = Path(table_dir)
    return sorted(p for p in table_dir.rglob(".tmp*") if p.is_file()) if table_dir.is_dir() else []


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def pipeline_temp_files(paths, root: str | Path = ".") -> list[Path]:
    """Temp files of killed atomic writes in the directories only pipeline stages write into:
    the pointers' directory (data/), the stage stamps, the candidate, eval/, and runs/
    (`paths` is params.paths)."""
    root = Path(root)
    dirs = {
        (root / paths.snapshot_pointer).parent,
        (root / paths.vectors_pointer).parent,
        root / paths.runs,
        root / paths.runs / "stages",
        root / paths.candidate,
        root / paths.eval,
    }
    return sorted(p for d in dirs if d.is_dir() for p in d.glob(".*.tmp") if p.is_file())


def stale_locks(root: str | Path) -> list[Path]:
    """git's lock files (index, HEAD, packed-refs, branch and tag refs; model names hold no '/'),
    and DVC's rwlock when it cannot be read."""
    gd = git_dir(root)
    found = [
        gd / name for name in ("index.lock", "HEAD.lock", "packed-refs.lock", "config.lock") if (gd / name).exists()
    ]
    for folder in (gd / "refs" / "tags", gd / "refs" / "heads"):
        try:
            found += [Path(e.path) for e in os.scandir(folder) if e.name.endswith(".lock")]
        except FileNotFoundError:
            pass
    rwlock = Path(root) / DVC_RWLOCK
    try:
        json.loads(rwlock.read_bytes())
    except FileNotFoundError:
        pass
    except ValueError:  # truncated or half-written: JSONDecodeError and UnicodeDecodeError
        found.append(rwlock)
    return found


def tool_processes(root: str | Path) -> list[int]:
    """Live git, dvc or gto processes working in this repository, from /proc."""
    top, pids = Path(root).resolve(), []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            cwd = Path(os.readlink(Path(entry.path, "cwd")))
        except OSError:
            continue
        words = {Path(a.decode(errors="replace")).name for a in argv[:3]}
        if words & {"git", "dvc", "gto"} and (cwd == top or top in cwd.parents):
            pids.append(int(entry.name))
    return pids


def clear_stale_locks(root: str | Path) -> list[str]:
    """Remove what a killed git or DVC left when none works here now; else one error naming the
    files and the command that clears them. Returns what was removed."""
    locks = stale_locks(root)
    if not locks:
        return []
    live = tool_processes(root)
    shown = " ".join(str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in locks)
    if live:
        raise RegistryError(
            f"git or dvc is running in this repository (pid {', '.join(map(str, live))}) and holds "
            f"{shown}; wait for it, or if it hangs stop it and run `rm -f {shown}`"
        )
    for lock in locks:
        lock.unlink(missing_ok=True)
    return [str(p) for p in locks]
