"""One registry change (promote, demote, rollback, release) as a journal, so a kill -9, a full
disk or a failing git at any point leaves registry.json, the history log, HEAD and the GTO tags
consistent.

The order is fixed: (1) the intent record models/.registry-journal.json (everything needed to
finish or undo: HEAD before, the history size before, the event line, the commit message, the
tags to create); (2) a hard link keeps registry.json as it was (no bytes copied: this works on a
full disk); (3) the change's own files (release: store dir, .dvc, .gitignore); (4) registry.json;
(5) the history line; (6) the commit, marked with a `Registry-Change: <id>` trailer; (7) the
tags; (8) the last-good copy; the record is removed last.

`recover` runs first in every registry command (and in `verify`), under the registry lock. The
commit decides, as in a database: a change whose commit exists is completed (its missing tags
created from the record), one without is undone (files put back, index unstaged). A command
that fails in-process undoes itself, its commit included, so a failed command never takes
effect. Every step of both directions is idempotent, so a kill during recovery is recovered by
the next command too.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Callable, ClassVar, Optional

from pydantic import BaseModel, ConfigDict

from reprostack import faults, jsonio
from reprostack.errors import RegistryError, ReprostackError
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
        _create_tags(root, j, commit)
        faults.point(f"{j.action}.after-tags")
    except BaseException as exc:
        (root / RESERVE_FILE).unlink(missing_ok=True)  # the undo's space on a full disk
        try:
            if j.commit and commit is None:  # git can move HEAD and then fail (writing the index)
                commit = committed(root, j)[1]
            undo(root, j, commit)
        except (ReprostackError, OSError) as second:
            if commit is not None and committed(root, j)[0] and _completed(root, j, commit):
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


def _completed(root: Path, j: Journal, commit: str) -> bool:
    """Finish a committed change whose undo failed (its tags, the last-good copy); False when
    that fails too, so the error says what is left."""
    try:
        found = _existing(root, j)
        missing = {t.name for t in j.tags if t.name not in found}
        if missing:
            _create_tags(root, j, tags.head(root) if commit == "HEAD" else commit, only=missing)
        finish(root, j)
    except (ReprostackError, OSError):
        return False
    return True


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


def _create_tags(root: Path, j: Journal, commit: str | None, only: set[str] | None = None) -> None:
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


def undo(root: Path, j: Journal, commit: str | None) -> None:
    """Put everything back as it was before `j`; idempotent. A commit made in this process goes
    first (while HEAD is ours a kill means "complete", so the files must still match it), then
    the visible files (serve follows registry.json), git's index last."""
    if commit == "HEAD":  # made by this process, which still holds the registry lock
        commit = tags.head(root)
    if commit is not None:
        _delete_tags(root, j, commit)
        tags.check(tags.git(root, "update-ref", "-m", f"undo {j.action}", "HEAD", j.head, commit),
                   "undoing the registry commit")
    if (root / BEFORE_FILE).exists():
        os.replace(root / BEFORE_FILE, root / store.REGISTRY_FILE)
        (root / BEFORE_FILE).unlink(missing_ok=True)  # rename() of two links to one file does nothing
    elif not j.registry_existed:
        (root / store.REGISTRY_FILE).unlink(missing_ok=True)
    log = root / history.HISTORY_FILE
    if j.history_size < 0:
        log.unlink(missing_ok=True)
    elif log.exists() and log.stat().st_size > j.history_size:
        os.truncate(log, j.history_size)
    for path, text in j.restore.items():
        if text is None:
            (root / path).unlink(missing_ok=True)
        elif not (root / path).exists() or (root / path).read_text(encoding="utf-8") != text:
            jsonio.atomic_write_text(root / path, text)
    for path in j.created:
        target = root / path
        if target.is_dir():
            subprocess.run(["chmod", "-R", "u+w", str(target)], check=False)
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    if j.commit and j.head is not None:
        tags.check(tags.git(root, "reset", "-q", j.head, "--", *j.paths), "unstaging the registry files")
    (root / RESERVE_FILE).unlink(missing_ok=True)
    (root / JOURNAL_FILE).unlink(missing_ok=True)


def _delete_tags(root: Path, j: Journal, commit: str) -> None:
    """Drop the tags this change made (only those pointing where it put them)."""
    found = _existing(root, j)
    lines = "".join(f"delete refs/tags/{t.name}\n" for t in j.tags if found.get(t.name) == (t.target or commit))
    if lines:
        result = subprocess.run(["git", "update-ref", "--stdin"], cwd=root, input=lines, capture_output=True, text=True)
        tags.check(result, "deleting the change's tags")


def _existing(root: Path, j: Journal) -> dict[str, str]:
    """{tag: commit it points at} for the journal's tags that exist."""
    if not j.tags:  # no pattern would list every ref
        return {}
    out = tags.git(root, "for-each-ref", "--format=%(refname:strip=2) %(*objectname)",
                   *[f"refs/tags/{t.name}" for t in j.tags]).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def committed(root: Path, j: Journal) -> tuple[bool, str | None]:
    """(did the change take effect, its commit): the commit decides; without commits, the line."""
    if not j.commit:
        log = root / history.HISTORY_FILE
        with open(log, "rb") if log.exists() else open(os.devnull, "rb") as handle:
            handle.seek(max(j.history_size, 0))
            return handle.read(len(j.event.encode())) == j.event.encode(), None
    now = tags.head(root)
    if now is None or now == j.head:
        return False, None
    span = f"{j.head}..HEAD" if j.head else "HEAD"
    found = tags.git(root, "log", "-1", "--format=%H", "-F", f"--grep={TRAILER}: {j.id}", span).stdout.strip()
    return bool(found), found or None


def recover(root: str | Path) -> str | None:
    """Finish or undo an interrupted change, after clearing git's stale locks; the caller holds
    the registry lock. Returns what was done, for `verify` to report."""
    root = Path(root)
    removed = tags.clear_stale_locks(root)
    if not (root / JOURNAL_FILE).exists():
        (root / RESERVE_FILE).unlink(missing_ok=True)  # killed between the two
        return f"removed stale git locks {', '.join(removed)}" if removed else None
    j = jsonio.load(root / JOURNAL_FILE, Journal, error=RegistryError, what="registry journal")
    done, commit = committed(root, j)
    if not done:
        undo(root, j, None)
        return f"undid the interrupted {j.action} of {j.model}"
    found = _existing(root, j)
    missing = {t.name for t in j.tags if t.name not in found}
    for t in j.tags:
        if t.name in found and found[t.name] != (t.target or commit):
            raise RegistryError(f"tag {t.name} points at {found[t.name][:10]}, not where the interrupted {j.action} "
                                f"puts it; delete it with `git tag -d {t.name}` and run `reprostack verify`")
    if missing:
        _create_tags(root, j, commit, only=missing)
    finish(root, j)
    return f"completed the interrupted {j.action} of {j.model}"
