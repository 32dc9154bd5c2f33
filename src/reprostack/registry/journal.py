"""One registry change (promote, demote, rollback, release) as a journal, so a kill -9, a full
disk or a failing git at any point leaves registry.json, the history log, HEAD and the GTO tags
consistent.

The order is fixed: (1) the intent record models/.registry-journal.json (everything needed to
finish or undo: HEAD before, the history size before, the event line, the commit message, the
tags to create); (2) a hard link keeps registry.json as it was (no bytes copied: this works on a
full disk); (3) the change's own files (release: store dir, .dvc, .gitignore); (4) registry.json;
(5) the history line; (6) the commit, marked with a `Registry-Change: <id>` trailer; (7) the
tags; (8) the last-good copy; the record is removed last.

`change.apply` carries a change out; `recovery.recover` runs first in every registry command (and
in `verify`), under the registry lock. The commit decides, as in a database: a change whose commit
exists is completed (its missing tags created from the record), one without is undone (files put
back, index unstaged). A command that fails in-process undoes itself, its commit included, so a
failed command never takes effect: the disk space the undo needs is held from the start
(`_reserve`), and if HEAD still cannot be reset the change is completed instead. Every step of both
directions is idempotent, so a kill during recovery is recovered by the next command too.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from reprostack.core import faults, jsonio
from reprostack.core.errors import RegistryError
from reprostack.registry import catalog, history, tags

JOURNAL_FILE = Path("models") / ".registry-journal.json"
BEFORE_FILE = Path("models") / ".registry-journal.before.json"
RESERVE_FILE = Path("models") / ".registry-journal.reserve"
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
    head: str | None
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
    restore: dict[str, str | None] = {}  # small files' text before (release: .gitignore); None: absent


def new(
    root: Path,
    action: str,
    model: str,
    event: dict,
    *,
    head: str | None,
    commit: bool,
    paths: list[str],
    message: str,
    planned: list[tuple[str, str, str]],
    tagger: str,
    epoch: int,
    created=(),
    restore=(),
) -> Journal:
    log = root / history.HISTORY_FILE
    return Journal(
        schema_version=Journal.SCHEMA_VERSION,
        id=uuid.uuid4().hex,
        action=action,
        model=model,
        head=head,
        commit=commit,
        paths=paths,
        message=message,
        registry_existed=(root / catalog.REGISTRY_FILE).exists(),
        history_size=log.stat().st_size if log.exists() else -1,
        event=history.line(event),
        tags=[PlannedTag(name=n, target=t, message=m) for n, t, m in planned],
        tagger=tagger,
        epoch=epoch,
        created=list(created),
        restore={p: ((root / p).read_text(encoding="utf-8") if (root / p).exists() else None) for p in restore},
    )


def create_tags(root: Path, j: Journal, commit: str | None, only: set[str] | None = None) -> None:
    planned = [(t.name, t.target or commit, t.message) for t in j.tags if only is None or t.name in only]
    if any(target is None for _, target, _ in planned):
        raise RegistryError(f"the {j.action} has no commit to tag")
    tags.create_tags(root, planned, j.tagger, j.epoch)


def finish(root: Path, j: Journal) -> None:
    catalog.refresh_last_good(root)
    faults.point(f"{j.action}.after-last-good")
    (root / BEFORE_FILE).unlink(missing_ok=True)
    (root / RESERVE_FILE).unlink(missing_ok=True)
    (root / JOURNAL_FILE).unlink(missing_ok=True)
