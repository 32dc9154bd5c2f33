"""The registry's audit trail: models/registry-history.jsonl, one `Event` document per line.

Append-only: lines are only ever added (O_APPEND, fsync), always under the registry lock and
inside a journaled change (registry/journal.py), so the log and registry.json change together
and a killed append is cut back by the next command. A last line without its newline is a
truncated one: it is reported, and nothing is ever appended after it.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reprostack.core import git, jsonio, names
from reprostack.core.errors import RegistryError

HISTORY_FILE = Path("models") / "registry-history.jsonl"
ACTIONS = ("release", "promote", "demote", "rollback")


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)
    version: str
    from_: str | None = Field(alias="from")
    to: str


class Event(jsonio.Document):
    SCHEMA_VERSION: ClassVar[int] = 1
    time: str
    user: str
    action: Literal["release", "promote", "demote", "rollback"]
    model: str
    changes: list[Change]
    reason: str
    tags: list[str]
    policy_override: str | None = None  # `promote --override`: why, and the rules it overrode

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        try:
            return names.check_model_name(value)
        except RegistryError as exc:
            raise ValueError(str(exc)) from None


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def current_user(root: str | Path = ".") -> str:
    """Who made the change: git's identity (what the commit will say), else the login. From
    the environment when git would take it from there: one process less per command."""
    name, email = os.environ.get("GIT_COMMITTER_NAME"), os.environ.get("GIT_COMMITTER_EMAIL")
    if name and email:
        return f"{name} <{email}>"
    ident = git.committer(root)
    if ident:
        return ident
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def event(action: str, model: str, changes: list[dict], reason: str, user: str, tags: list[str]) -> dict:
    return {
        "schema_version": Event.SCHEMA_VERSION,
        "time": now_utc(),
        "user": user,
        "action": action,
        "model": model,
        "changes": changes,
        "reason": reason,
        "tags": tags,
    }


def change(version: str, from_stage: str | None, to_stage: str) -> dict:
    return {"version": version, "from": from_stage, "to": to_stage}


def line(entry: dict) -> str:
    """The validated line an event is stored as."""
    jsonio.parse(entry, Event, error=RegistryError, where="history entry (about to be written)")
    return json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n"


def truncated_at(root: str | Path) -> int | None:
    """The offset of a last line left without its newline (a killed or hand-cut write), or None."""
    path = Path(root) / HISTORY_FILE
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return None
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return None
            handle.seek(max(0, size - 65536))
            tail = handle.read()
    except FileNotFoundError:
        return None
    cut = tail.rfind(b"\n")
    return size - len(tail) + cut + 1 if cut >= 0 else (0 if size <= 65536 else size - len(tail))


def truncated_error(root: str | Path, offset: int) -> RegistryError:
    return RegistryError(
        f"{HISTORY_FILE} ends with a truncated line (from byte {offset}); restore the log with "
        f"`git checkout {HISTORY_FILE}`, or drop the broken line with "
        f"`truncate -s {offset} {HISTORY_FILE}`"
    )


def append_line(root: str | Path, text: str) -> None:
    """Add one line; the caller holds the registry lock. Never glued onto a broken last line."""
    broken = truncated_at(root)
    if broken is not None:
        raise truncated_error(root, broken)
    path = Path(root) / HISTORY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        data = text.encode("utf-8")
        if os.write(fd, data) != len(data):  # a short write: the disk is full
            raise OSError(28, "No space left on device", str(path))
        os.fsync(fd)
    finally:
        os.close(fd)


def read(root: str | Path = ".", model: str | None = None) -> list[dict]:
    """Every event, oldest first (optionally one model's); a broken line is an error naming it."""
    path = Path(root) / HISTORY_FILE
    if not path.exists():
        return []
    entries = []
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            where = f"{path}:{number}"
            if not text.endswith("\n"):
                raise truncated_error(root, truncated_at(root) or 0)
            try:
                entry = json.loads(text)
            except json.JSONDecodeError:
                raise RegistryError(
                    f"{where} is not valid JSON; restore the log with `git checkout {HISTORY_FILE}`"
                ) from None
            jsonio.parse(entry, Event, error=RegistryError, where=f"history line {where}")
            if model is None or entry["model"] == model:
                entries.append(entry)
    return entries


def production_sequence(entries: list[dict], production: str) -> list[str]:
    """Versions in the order they entered production (with repeats), for rollback."""
    return [c["version"] for e in entries for c in e["changes"] if c["to"] == production]


def replay(entries: list[dict]) -> dict[str, dict[str, str]]:
    """{model: {version: stage}} as the log tells it, to compare with registry.json."""
    stages: dict[str, dict[str, str]] = {}
    for entry in entries:
        for item in entry["changes"]:
            stages.setdefault(entry["model"], {})[item["version"]] = item["to"]
    return stages
