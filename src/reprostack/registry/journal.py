"""One registry change (promote, demote, rollback, release) as a journal, so a kill -9, a full
disk or a failing git at any point leaves registry.json, the history log, HEAD and the GTO tags
consistent.

The order is fixed: (1) the intent record models/.registry-journal.json (everything needed to
finish or undo: HEAD before, the history size before, the event line, the commit message, the
tags to create); (2) a hard link keeps registry.json as it was (no bytes copied: this works on a
full disk); (3) the change's own files (release: store dir, .dvc, .gitignore); (4) registry.json;
(5) the history line; (6) the commit, marked with a `Registry-Change: <id>` trailer; (7) the
tags; (8) the last-good copy; the record is removed last.

`recovery.recover` runs first in every registry command (and in `verify`), under the registry
lock. The commit decides, as in a database: a change whose commit exists is completed (its
missing tags created from the record), one without is undone (files put back, index unstaged).
A command that fails in-process undoes itself, its commit included, so a failed command never
takes effect: the disk space the undo needs is held from the start (`_reserve`), and if HEAD
still cannot be reset the change is completed instead. Every step of both directions is
idempotent, so a kill during recovery is recovered by the next command too.
"""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path
from typing import Callable, ClassVar, Optional

from pydantic import BaseModel, ConfigDict

from reprostack.core import faults, jsonio
from reprostack.core.errors import RegistryError, ReprostackError
from reprostack.registry import history, store, tags

JOURNAL_FILE = Path("models") / ".registry-journal.json"
BEFORE_FILE = Path("models") / ".registry-journal.before.json"
RESERVE_FILE = Path("models") / ".registry-journal.reserve"
RESERVE_BYTES = 64 * 1024  # a ref, its lock, a reflog line and git's temporary files, with room to spare
TRAILER = "Registry-Change"


class PlannedTag(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: str
    target: str  # a commit id, or "" for the change's own commit (a release tag)
    message: str


class Journal(jsonio.Document):
    SCHEMA_VERSION: ClassVar[int] = 1
    id: str
    action: str
    model: str
    head: Optional[str]
    commit: bool
    paths: list[str]
    message: str
    registry_existed: bool
    history_size: int  # -1: the log did not exist
    event: str
    tags: list[PlannedTag]
    tagger: str
    epoch: int
    created: list[str] = []  # paths the change creates (release: store dir, .dvc): removed on undo
    restore: dict[str, Optional[str]] = {}  # small files' text before (release: .gitignore); None: absent


def new(root: Path, action: str, model: str, event: dict, *, head: str | None, commit: bool, paths: list[str],
        message: str, planned: list[tuple[str, str, str]], tagger: str, epoch: int, created=(), restore=()) -> Journal:
    log = root / history.HISTORY_FILE
    return Journal(
        schema_version=Journal.SCHEMA_VERSION, id=uuid.uuid4().hex, action=action, model=model, head=head,
        commit=commit, paths=paths, message=message, registry_existed=(root / store.REGISTRY_FILE).exists(),
        history_size=log.stat().st_size if log.exists() else -1, event=history.line(event),
        tags=[PlannedTag(name=n, target=t, message=m) for n, t, m in planned], tagger=tagger, epoch=epoch,
        created=list(created),
        restore={p: ((root / p).read_text(encoding="utf-8") if (root / p).exists() else None) for p in restore})


def apply(root: Path, j: Journal, data: dict, prepare: Callable[[], None] | None = None) -> str | None:
    """Carry out the change; return its commit. On any failure undo it and raise one line."""
    try:
        jsonio.save(root / JOURNAL_FILE, j)
        _reserve(root)
    except OSError as exc:
        (root / RESERVE_FILE).unlink(missing_ok=True)
        (root / JOURNAL_FILE).unlink(missing_ok=True)
        raise RegistryError(f"could not start the {j.action}: {_why(exc)}; nothing was changed") from None
    commit = None
    try:
        faults.point(f"{j.action}.after-journal")
        if j.registry_existed:
            (root / BEFORE_FILE).unlink(missing_ok=True)
            os.link(root / store.REGISTRY_FILE, root / BEFORE_FILE)
        if prepare is not None:
            prepare()
            faults.point(f"{j.action}.after-prepare")
        store.write(root, data, validated=True)
        faults.point(f"{j.action}.after-registry-write")
        history.append_line(root, j.event)
        faults.point(f"{j.action}.after-history-append")
        if j.commit:
            commit = _commit(root, j)
            faults.point(f"{j.action}.after-commit")
        create_tags(root, j, commit)
        faults.point(f"{j.action}.after-tags")
    except BaseException as exc:
        from reprostack.registry.recovery import committed, completed, undo  # recovery imports this module

        (root / RESERVE_FILE).unlink(missing_ok=True)  # the undo's space on a full disk
        try:
            if j.commit and commit is None:  # git can move HEAD and then fail (writing the index)
                commit = committed(root, j)[1]
            undo(root, j, commit)
        except (ReprostackError, OSError) as second:
            if commit is not None and committed(root, j)[0] and completed(root, j, commit):
                return commit  # HEAD could not be reset, but the change could finish: it stands, whole
            raise RegistryError(f"the {j.action} failed ({_why(exc)}) and could not be undone yet ({_why(second)}); "
                                "free disk space if it is full, then run `reprostack verify`, which finishes "
                                "the undo") from None
        if isinstance(exc, OSError):
            raise RegistryError(f"the {j.action} failed: {_why(exc)}; nothing was changed") from None
        raise
    finish(root, j)
    return commit


def _reserve(root: Path) -> None:
    """Hold the disk space an undo needs (git rewrites its index and packed-refs, and writes a ref
    and a reflog line), released just before undoing: so on a full disk a half-done change is
    undone, never left committed by a command that reports failure."""
    gitdir = tags.git_dir(root)
    size = RESERVE_BYTES + sum(p.stat().st_size for p in (gitdir / "index", gitdir / "packed-refs") if p.exists())
    fd = os.open(root / RESERVE_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
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


def _commit(root: Path, j: Journal) -> str:
    """Commit; return the commit id, or "HEAD" when no tag needs it (one git process less: an
    undo resolves it then)."""
    tags.commit_paths(root, j.paths, f"{j.message}\n\n{TRAILER}: {j.id}")
    if all(t.target for t in j.tags):
        return "HEAD"
    return tags.check(tags.git(root, "rev-parse", "HEAD"), "reading HEAD").strip()


def create_tags(root: Path, j: Journal, commit: str | None, only: set[str] | None = None) -> None:
    planned = [(t.name, t.target or commit, t.message) for t in j.tags if only is None or t.name in only]
    if any(target is None for _, target, _ in planned):
        raise RegistryError(f"the {j.action} has no commit to tag")
    tags.create_tags(root, planned, j.tagger, j.epoch)


def finish(root: Path, j: Journal) -> None:
    store.refresh_last_good(root)
    faults.point(f"{j.action}.after-last-good")
    (root / BEFORE_FILE).unlink(missing_ok=True)
    (root / RESERVE_FILE).unlink(missing_ok=True)
    (root / JOURNAL_FILE).unlink(missing_ok=True)
