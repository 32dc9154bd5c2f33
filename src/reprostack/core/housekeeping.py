"""Leftovers of killed processes: found, named, and removed only when nothing can own them.

- Snapshot staging directories (`data/snapshots/<ds>/.tmp-<pid>-*`) carry their creator's pid:
  one whose process is gone is garbage, whoever looks (the next `snapshot create` or stage).
- Atomic-write temp files (`.<name>.*.tmp`, jsonio) of the pipeline's own outputs: only DVC
  stages write those paths and DVC runs one stage of a repository at a time, so the next
  stage run may remove them all.
- Lance temp files of an interrupted table write (`<table>.lance/**/.tmp*`): removed by
  `reprostack verify --fix` or `vectors optimize`, never by a stage, because a `vectors migrate`
  may be writing beside it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterable

STAGING = ".tmp-"


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
        pid = entry.name[len(STAGING):].split("-", 1)[0]
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
    dirs = {(root / paths.snapshot_pointer).parent, (root / paths.vectors_pointer).parent, root / paths.runs,
            root / paths.runs / "stages", root / paths.candidate, root / paths.eval}
    return sorted(p for d in dirs if d.is_dir() for p in d.glob(".*.tmp") if p.is_file())
