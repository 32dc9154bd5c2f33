"""The registry's audit trail: models/registry-history.jsonl, one JSON object per line.

Append-only: lines are only ever added (O_APPEND, fsync), always under the registry lock, so the
log and registry.json change together. Each event records every stage change one command made
(a promotion that archives the previous production version is one event with two changes),
with time, user and reason.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from reprostack import git, names
from reprostack.errors import RegistryError

SCHEMA_VERSION = 1
HISTORY_FILE = Path("models") / "registry-history.jsonl"
ACTIONS = ("release", "promote", "demote", "rollback")


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def current_user(root: str | Path = ".") -> str:
    """Who made the change: git's identity if set (what the commit will say), else the login."""
    ident = git.committer(root)
    if ident:
        return ident
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def event(action: str, model: str, changes: list[dict], reason: str, user: str, tags: list[str]) -> dict:
    return {"schema_version": SCHEMA_VERSION, "time": now_utc(), "user": user, "action": action,
            "model": model, "changes": changes, "reason": reason, "tags": tags}


def change(version: str, from_stage: str | None, to_stage: str) -> dict:
    return {"version": version, "from": from_stage, "to": to_stage}


def validate(entry: object, where: str) -> dict:
    if not isinstance(entry, dict) or entry.get("schema_version") != SCHEMA_VERSION:
        raise RegistryError(f"{where}: not a history entry with schema_version {SCHEMA_VERSION}")
    for key, kind in (("time", str), ("user", str), ("action", str), ("model", str), ("changes", list),
                      ("reason", str), ("tags", list)):
        if not isinstance(entry.get(key), kind):
            raise RegistryError(f"{where}: {key} must be a {kind.__name__}")
    if entry["action"] not in ACTIONS:
        raise RegistryError(f"{where}: unknown action {entry['action']!r}")
    names.check_model_name(entry["model"])
    for item in entry["changes"]:
        if not isinstance(item, dict) or not {"version", "from", "to"} <= set(item):
            raise RegistryError(f"{where}: every change needs version, from and to")
    return entry


def append(root: str | Path, entry: dict) -> None:
    """Add one line; the caller holds the registry lock."""
    validate(entry, "history entry (about to be written)")
    path = Path(root) / HISTORY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
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
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                entry = validate(json.loads(line), where)
            except json.JSONDecodeError:
                raise RegistryError(f"{where} is not valid JSON; restore the log with `git checkout {HISTORY_FILE}`") from None
            if model is None or entry["model"] == model:
                entries.append(entry)
    return entries


def production_sequence(entries: list[dict], production: str) -> list[str]:
    """Versions in the order they entered production (with repeats), for rollback."""
    return [c["version"] for e in entries for c in e["changes"] if c["to"] == production]
