"""Stage tags the history log says a registry change made, but which are gone (deleted by hand,
or lost by a clone that fetched only some tags): found by `verify`, re-created by `verify --fix`.

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
