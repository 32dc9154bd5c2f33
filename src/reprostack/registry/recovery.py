"""Recovery of a registry change (registry/journal.py): undo one that must not stand, complete
one whose commit exists. `recover` runs first in every registry command and in `verify`, under
the registry lock; every step of both directions is idempotent, so a kill during recovery is
recovered by the next command too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from reprostack.core import git, jsonio, leftovers
from reprostack.core.errors import RegistryError, ReprostackError
from reprostack.registry import catalog, history, tags
from reprostack.registry.journal import BEFORE_FILE, JOURNAL_FILE, RESERVE_FILE, TRAILER, Journal, create_tags, finish


def undo(root: Path, j: Journal, commit: str | None) -> None:
    """Put everything back as it was before `j`; idempotent. A commit made in this process goes
    first (while HEAD is ours a kill means "complete", so the files must still match it), then
    the visible files (serve follows registry.json), git's index last."""
    if commit == "HEAD":  # made by this process, which still holds the registry lock
        commit = tags.head(root)
    if commit is not None:
        _delete_tags(root, j, commit)
        tags.check(
            tags.git(root, "update-ref", "-m", f"undo {j.action}", "HEAD", j.head, commit),
            "undoing the registry commit",
        )
    if (root / BEFORE_FILE).exists():
        os.replace(root / BEFORE_FILE, root / catalog.REGISTRY_FILE)
        (root / BEFORE_FILE).unlink(missing_ok=True)  # rename() of two links to one file does nothing
    elif not j.registry_existed:
        (root / catalog.REGISTRY_FILE).unlink(missing_ok=True)
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
        tags.check(git.call(root, "update-ref", "--stdin", input=lines), "deleting the change's tags")


def _existing(root: Path, j: Journal) -> dict[str, str]:
    """{tag: commit it points at} for the journal's tags that exist."""
    if not j.tags:  # no pattern would list every ref
        return {}
    out = tags.git(
        root, "for-each-ref", "--format=%(refname:strip=2) %(*objectname)", *[f"refs/tags/{t.name}" for t in j.tags]
    ).stdout
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


def complete(root: Path, j: Journal, commit: str) -> None:
    """Finish a change whose commit exists: its missing tags, the last-good copy, the record."""
    if commit == "HEAD":  # made by this process, which still holds the registry lock
        commit = tags.head(root)
    found = _existing(root, j)
    for t in j.tags:
        if t.name in found and found[t.name] != (t.target or commit):
            raise RegistryError(
                f"tag {t.name} points at {found[t.name][:10]}, not where the interrupted {j.action} "
                f"puts it; delete it with `git tag -d {t.name}` and run `reprostack verify`"
            )
    missing = {t.name for t in j.tags if t.name not in found}
    if missing:
        create_tags(root, j, commit, only=missing)
    finish(root, j)


def completed(root: Path, j: Journal, commit: str) -> bool:
    """complete() for a committed change whose undo failed; False when that fails too, so the
    error says what is left."""
    try:
        complete(root, j, commit)
    except (ReprostackError, OSError):
        return False
    return True


def recover(root: str | Path) -> str | None:
    """Finish or undo an interrupted change, after clearing git's and DVC's leftovers; the caller holds
    the registry lock. Returns what was done, for `verify` to report."""
    root = Path(root)
    removed = leftovers.clear_stale_locks(root)
    if not (root / JOURNAL_FILE).exists():
        (root / RESERVE_FILE).unlink(missing_ok=True)  # killed between the two
        return f"removed stale git and dvc locks {', '.join(removed)}" if removed else None
    j = jsonio.load(root / JOURNAL_FILE, Journal, error=RegistryError, what="registry journal")
    done, commit = committed(root, j)
    if not done:
        undo(root, j, None)
        return f"undid the interrupted {j.action} of {j.model}"
    complete(root, j, commit)
    return f"completed the interrupted {j.action} of {j.model}"
