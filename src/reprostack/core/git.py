"""Every git call goes through here: one-line errors, NUL-separated output where paths appear.

Porcelain output without -z quotes unusual paths ("a b", non-ASCII) and writes renames as
`old -> new`, so slicing lines breaks on exactly the paths a user does not expect; with -z a path
is the bytes git has, one field each (git-status(1), "Porcelain Format Version 1").
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from reprostack.core.errors import ReprostackError


def call(
    root: str | Path, *args: str, input: str | bytes | None = None, env: dict | None = None, text: bool = True
) -> subprocess.CompletedProcess:
    """Run git in root and return the finished process, whatever its exit status."""
    return subprocess.run(
        ["git", *args],
        cwd=root,
        input=input,
        capture_output=True,
        text=text,
        env={**os.environ, **env} if env else None,
    )


def run(
    root: str | Path,
    *args: str,
    doing: str,
    error: type[ReprostackError] = ReprostackError,
    input: str | None = None,
    env: dict | None = None,
) -> str:
    """Run git and return its stdout; a failure is one `error` line saying what we were doing."""
    return checked(call(root, *args, input=input, env=env), doing, error)


def checked(result: subprocess.CompletedProcess, doing: str, error: type[ReprostackError] = ReprostackError) -> str:
    """stdout of a finished git process; its failure as one `error` line saying what we were doing."""
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise error(f"git failed while {doing}: {lines[-1] if lines else 'no output'}")
    return result.stdout


def ok(root: str | Path, *args: str) -> bool:
    """True when the git command succeeds (for questions such as `cat-file -e`)."""
    return call(root, *args).returncode == 0


def rev_parse(root: str | Path, rev: str) -> str | None:
    """The object id `rev` names, or None when it names nothing (or root is no repository)."""
    result = call(root, "rev-parse", "-q", "--verify", rev)
    return result.stdout.strip() if result.returncode == 0 else None


def changed_paths(root: str | Path, *pathspec: str) -> list[str] | None:
    """Tracked paths with uncommitted changes (both sides of a rename), sorted; None outside a
    repository. Untracked files do not count."""
    result = call(
        root, "status", "--porcelain=v1", "-z", "--untracked-files=no", *(["--", *pathspec] if pathspec else [])
    )
    if result.returncode != 0:
        return None
    return sorted(parse_status_z(result.stdout))


def parse_status_z(output: str) -> list[str]:
    """Paths from `git status --porcelain=v1 -z`: `XY path\\0`, and for a rename or copy
    `XY new\\0old\\0`."""
    fields = output.split("\0")
    paths, i = [], 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue  # the empty field after the last NUL
        paths.append(entry[3:])
        if "R" in entry[:2] or "C" in entry[:2]:
            paths.append(fields[i])
            i += 1
    return paths


def committer(root: str | Path) -> str | None:
    """git's committer identity, `Name <email>` (what a commit made now would say), or None."""
    result = call(root, "var", "GIT_COMMITTER_IDENT")
    ident = result.stdout.strip() if result.returncode == 0 else ""
    if not ident:
        return None
    return ident[: ident.rfind(">") + 1] if ">" in ident else ident


def git_dir(root: str | Path) -> Path:
    """The repository's git directory, also for a worktree or submodule (where .git is a file)."""
    dot = Path(root) / ".git"
    if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
        target = Path(dot.read_text().split(":", 1)[1].strip())
        return target if target.is_absolute() else (Path(root) / target).resolve()
    return dot
