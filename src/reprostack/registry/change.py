"""Carrying out one registry change from its journal (registry/journal.py has the protocol):
record the intent, make the change step by step, and on any failure in this process undo it
(registry/recovery.py), so a failed command never takes effect.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from reprostack.core import faults, git, jsonio
from reprostack.core.errors import RegistryError, ReprostackError
from reprostack.registry import catalog, history, journal, tags
from reprostack.registry.recovery import committed, completed, undo

RESERVE_BYTES = 64 * 1024  # a ref, its lock, a reflog line and git's temporary files, with room to spare


def apply(root: Path, j: journal.Journal, data: dict, prepare: Callable[[], None] | None = None) -> str | None:
    """Carry out the change; return its commit. On any failure undo it and raise one line."""
    try:
        jsonio.save(root / journal.JOURNAL_FILE, j)
        _reserve(root)
    except OSError as exc:
        (root / journal.RESERVE_FILE).unlink(missing_ok=True)
        (root / journal.JOURNAL_FILE).unlink(missing_ok=True)
        raise RegistryError(f"could not start the {j.action}: {_why(exc)}; nothing was changed") from None
    commit = None
    try:
        faults.point(f"{j.action}.after-journal")
        if j.registry_existed:
            (root / journal.BEFORE_FILE).unlink(missing_ok=True)
            os.link(root / catalog.REGISTRY_FILE, root / journal.BEFORE_FILE)
        if prepare is not None:
            prepare()
            faults.point(f"{j.action}.after-prepare")
        catalog.write(root, data, validated=True)
        faults.point(f"{j.action}.after-registry-write")
        history.append_line(root, j.event)
        faults.point(f"{j.action}.after-history-append")
        if j.commit:
            commit = _commit(root, j)
            faults.point(f"{j.action}.after-commit")
        journal.create_tags(root, j, commit)
        faults.point(f"{j.action}.after-tags")
    except BaseException as exc:
        (root / journal.RESERVE_FILE).unlink(missing_ok=True)  # the undo's space on a full disk
        try:
            if j.commit and commit is None:  # git can move HEAD and then fail (writing the index)
                commit = committed(root, j)[1]
            undo(root, j, commit)
        except (ReprostackError, OSError) as second:
            if commit is not None and committed(root, j)[0] and completed(root, j, commit):
                return commit  # HEAD could not be reset, but the change could finish: it stands, whole
            raise RegistryError(
                f"the {j.action} failed ({_why(exc)}) and could not be undone yet ({_why(second)}); "
                "free disk space if it is full, then run `reprostack verify`, which finishes "
                "the undo"
            ) from None
        if isinstance(exc, OSError):
            raise RegistryError(f"the {j.action} failed: {_why(exc)}; nothing was changed") from None
        raise
    journal.finish(root, j)
    return commit


def _reserve(root: Path) -> None:
    """Hold the disk space an undo needs (git rewrites its index and packed-refs, and writes a ref
    and a reflog line), released just before undoing: so on a full disk a half-done change is
    undone, never left committed by a command that reports failure."""
    gitdir = git.git_dir(root)
    size = RESERVE_BYTES + sum(p.stat().st_size for p in (gitdir / "index", gitdir / "packed-refs") if p.exists())
    fd = os.open(root / journal.RESERVE_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            os.posix_fallocate(fd, 0, size)  # blocks allocated, none written
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise
            os.write(fd, b"\0" * size)  # a filesystem without fallocate
    finally:
        os.close(fd)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc.strerror or exc)
    return str(exc) or type(exc).__name__


def _commit(root: Path, j: journal.Journal) -> str:
    """Commit; return the commit id, or "HEAD" when no tag needs it (one git process less: an
    undo resolves it then)."""
    tags.commit_paths(root, j.paths, f"{j.message}\n\n{journal.TRAILER}: {j.id}")
    if all(t.target for t in j.tags):
        return "HEAD"
    return tags.check(tags.git(root, "rev-parse", "HEAD"), "reading HEAD").strip()
