"""DVC's temporary experiment workspaces (`dvc exp run --temp`, `dvc queue start`).

DVC runs them in <project>/.dvc/tmp/exps/<tmp>/: a git checkout plus DVC's cached outputs, so
the git-ignored snapshots (data/snapshots) and the LanceDB table (data/vectors) are absent.
Both are append-only history: a snapshot directory is named by its content, and a table
version, once written, never changes. So a temporary workspace links to the project's own
instead of rebuilding them; what the experiment writes lands where the project will read it
once the experiment is applied.
"""

from __future__ import annotations

import os
from pathlib import Path

MARKER = f"{os.sep}.dvc{os.sep}tmp{os.sep}exps{os.sep}"


def origin(cwd: str | Path = ".") -> Path | None:
    """The project a DVC temporary workspace was made from, or None when `cwd` is not one."""
    here = str(Path(cwd).resolve()) + os.sep
    at = here.find(MARKER)
    return Path(here[:at]) if at >= 0 else None


def shared_paths(params: dict) -> list[str]:
    """The relative, git-ignored, append-only locations the stages read and write."""
    paths = [params.get("paths", {}).get("snapshots")]
    uri = params.get("embedding", {}).get("uri") or ""
    if "://" not in uri:
        paths.append(uri)
    return [p for p in paths if p and not Path(p).is_absolute()]


def link_shared(cwd: str | Path = ".") -> list[str]:
    """In a temporary workspace, symlink each shared location to the project's; elsewhere nothing."""
    from reprostack.core import config
    from reprostack.core.errors import ReprostackError

    project = origin(cwd)
    if project is None:
        return []
    try:
        params = config.read_params_file(Path(cwd) / config.PARAMS_FILE)
    except ReprostackError:
        return []  # the stage itself reports the bad params.yaml
    linked = []
    for rel in shared_paths(params):
        here, there = Path(cwd) / rel, project / rel
        if here.exists() or here.is_symlink():
            continue
        there.mkdir(parents=True, exist_ok=True)
        here.parent.mkdir(parents=True, exist_ok=True)
        here.symlink_to(there, target_is_directory=True)
        linked.append(rel)
    return linked


def keep_in_project(path: str | Path, cwd: str | Path = ".") -> Path | None:
    """In a temporary workspace, copy a new append-only file (a run record) to the same place in
    the project: DVC leaves untracked files out of the experiment's commit, so the record would
    be lost with the workspace while the table keeps the run's tag. Elsewhere nothing."""
    from reprostack.core import jsonio

    project = origin(cwd)
    if project is None:
        return None
    target = project / Path(path)
    try:
        jsonio.atomic_write_bytes(target, (Path(cwd) / path).read_bytes(), exclusive=True)
    except FileExistsError:
        pass  # already kept (a re-run of the stage)
    return target
