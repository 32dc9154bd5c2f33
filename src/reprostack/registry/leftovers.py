"""What a killed git or DVC leaves in the repository, and its removal once nobody works here.

git: lock files (index, HEAD, packed-refs, refs) that make every later git command refuse.
DVC: `.dvc/tmp/rwlock`, which DVC rewrites in place (truncate, then write) on every command; a
kill between the two leaves it empty, and every later `dvc` command then stops with "Unable to
read RWLock-file ... JSON structure is corrupted" until it is removed. Entries of dead processes
in a readable rwlock DVC removes itself, so only an unreadable one is ours to remove; with no
DVC running there is nothing it could be protecting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from reprostack.core.errors import RegistryError
from reprostack.registry.tags import git_dir

DVC_RWLOCK = Path(".dvc") / "tmp" / "rwlock"


def stale_locks(root: str | Path) -> list[Path]:
    """git's lock files (index, HEAD, packed-refs, branch and tag refs; model names hold no '/'),
    and DVC's rwlock when it cannot be read."""
    gd = git_dir(root)
    found = [gd / name for name in ("index.lock", "HEAD.lock", "packed-refs.lock", "config.lock")
             if (gd / name).exists()]
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
        raise RegistryError(f"git or dvc is running in this repository (pid {', '.join(map(str, live))}) and holds "
                            f"{shown}; wait for it, or if it hangs stop it and run `rm -f {shown}`")
    for lock in locks:
        lock.unlink(missing_ok=True)
    return [str(p) for p in locks]
