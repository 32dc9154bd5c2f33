"""Release and stage tags that are gone (deleted by hand, or lost by a clone that fetched only
some tags) or moved off their commit: found by `verify`, put back by `verify --fix`. The history
log and registry.json are the journal's truth; the tags are derived from them.

A release tag `name@version` belongs on the release commit: the commit that added
models/<name>/<version>.dvc on top of the commit registry.json records (git.commit).

A stage tag names its stage and counter (`name#stage#N`, `name#stage!#N` for leaving one); the
event that made it says which version moved there, and the version's release tag gives the
commit GTO expects the tag on. So a lost tag can be made again exactly: same name, same target,
dated when its change happened. A version whose release tag is gone too is left alone (there is
no commit to put it on; `verify` notes the missing release tag instead).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from reprostack.core import names
from reprostack.registry import history, tags

STAGE_TAG_RE = re.compile(r"^(?P<model>.+?)#(?P<stage>[^#!]+)(?P<leave>!?)#\d+$")


def _epoch(event: dict) -> int:
    return int(datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp())


def missing_stage_tags(entries: list[dict], known: set[str]) -> list[tuple[str, str, str, int]]:
    """(tag, release tag of its version, message, epoch) for each stage tag a logged change made
    that does not exist now and can be re-created."""
    found = []
    for event in entries:
        for tag in event["tags"]:
            match = STAGE_TAG_RE.match(tag)
            if tag in known or not match:
                continue
            side = "from" if match["leave"] else "to"
            version = next((c["version"] for c in event["changes"] if c.get(side) == match["stage"]), None)
            release = names.release_tag(event["model"], version) if version else None
            if release in known:
                found.append(
                    (
                        tag,
                        release,
                        f"registry: {event['action']} {event['model']} ({version}), re-created",
                        _epoch(event),
                    )
                )
    return found


def release_commits(root: Path) -> dict[tuple[str, str], list[tuple[str, str | None]]]:
    """{(name, version): [(commit, first parent)]} of every commit in HEAD's history that added a
    models/<name>/<version>.dvc, newest first: one git process for the whole registry."""
    found = tags.git(root, "log", "--format=@%H %P", "--diff-filter=A", "--name-only", "--", "models")
    adds: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    commit: tuple[str, str | None] = ("", None)
    for line in found.stdout.splitlines() if found.returncode == 0 else []:
        if line.startswith("@"):
            parts = line[1:].split()
            commit = (parts[0], parts[1] if len(parts) > 1 else None)
            continue
        path = line.strip().split("/")
        if len(path) == 3 and path[0] == "models" and path[2].endswith(".dvc"):
            adds.setdefault((path[1], path[2][: -len(".dvc")]), []).append(commit)
    return adds


def release_commit(adds: list[tuple[str, str | None]], source: str | None) -> str | None:
    """The commit that released a version: the one that added its .dvc on top of `source`
    (registry.json's git.commit), else the first that added it; None if none did here."""
    exact = [c for c, parent in adds if parent == source]
    return exact[0] if exact else (adds[-1][0] if adds else None)


def tag_targets(root: Path) -> dict[str, str]:
    """{tag: the commit it points at}, for every tag, in one git process."""
    out = tags.git(root, "for-each-ref", "--format=%(refname:strip=2) %(objectname) %(*objectname)", "refs/tags")
    found = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            found[parts[0]] = parts[2] if len(parts) > 2 else parts[1]  # annotated: the peeled commit
    return found


def wrong_tags(root: Path, data: dict, entries: list[dict]) -> list[tuple[str, str, str | None, str, int]]:
    """(tag, the commit it belongs on, the commit it is on or None, message, epoch) for every
    release tag of a version in registry.json and every stage tag the history made that is gone
    or points elsewhere. A version whose release commit this clone lacks is left out."""
    targets, releases, wrong, adds = tag_targets(root), {}, [], release_commits(root)
    released_at = {
        (e["model"], c["version"]): _epoch(e) for e in entries if e["action"] == "release" for c in e["changes"]
    }
    for model in data["models"]:
        for entry in model["versions"]:
            name, version = model["name"], entry["version"]
            commit = release_commit(adds.get((name, version), []), (entry.get("git") or {}).get("commit"))
            if commit is None:
                continue
            releases[(name, version)] = commit
            tag = names.release_tag(name, version)
            if targets.get(tag) != commit:
                message = f"{name} {version}: sha256 {entry['model']['sha256']}, metrics {entry.get('metrics')}"
                wrong.append((tag, commit, targets.get(tag), message, released_at.get((name, version), 0)))
    for event in entries:
        for tag in event["tags"]:
            match = STAGE_TAG_RE.match(tag)
            if not match:
                continue
            side = "from" if match["leave"] else "to"
            version = next((c["version"] for c in event["changes"] if c.get(side) == match["stage"]), None)
            commit = releases.get((event["model"], version))
            if commit and targets.get(tag) != commit:
                message = f"registry: {event['action']} {event['model']} ({version}), re-created"
                wrong.append((tag, commit, targets.get(tag), message, _epoch(event)))
    return wrong


def restore_tags(root: str | Path, data: dict) -> list[str]:
    """Put back every tag wrong_tags finds (moved ones deleted first; a kill in between leaves a
    tag gone, which the next run re-creates); the caller holds the registry lock."""
    root = Path(root)
    if not (root / history.HISTORY_FILE).exists():
        return []
    wrong = wrong_tags(root, data, history.read(root))
    moved = [tag for tag, _, actual, _, _ in wrong if actual is not None]
    if moved:
        updates = "".join(f"delete refs/tags/{tag}\n" for tag in moved)
        tags.check(tags.git(root, "update-ref", "--stdin", input=updates), f"removing moved tags {', '.join(moved)}")
    for tag, commit, _, message, epoch in wrong:  # each with its own date, as first made
        tags.create_tags(
            root, [(tag, commit, message)], history.current_user(root), epoch or int(datetime.now(UTC).timestamp())
        )
    return [tag for tag, *_ in wrong]


def restore_stage_tags(root: str | Path) -> list[str]:
    """Re-create the stage tags missing_stage_tags finds; the caller holds the registry lock."""
    root = Path(root)
    if not (root / history.HISTORY_FILE).exists():
        return []
    missing = missing_stage_tags(history.read(root), tags.list_tags(root))
    if not missing:
        return []
    commits = {
        release: tags.check(tags.git(root, "rev-parse", f"{release}^{{commit}}"), f"reading {release}").strip()
        for _, release, _, _ in missing
    }
    for tag, release, message, epoch in missing:  # each with its own date, as first made
        tags.create_tags(root, [(tag, commits[release], message)], history.current_user(root), epoch)
    return [tag for tag, _, _, _ in missing]
