"""What the provenance links share: the walk's context (git, DVC's cache, pointer files at the
run's commit) and the two outcomes a link can have besides passing."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reprostack.core import git
from reprostack.core.config import Params


class Broken(Exception):
    """A link does not hold: what differs, and how to fix it where we know."""


class Skip(Exception):  # noqa: N818 (an outcome, not an error)
    """A link that cannot be checked here (no server asked)."""


@dataclass
class Context:
    root: Path
    params: Params
    name: str
    version: str | None
    url: str | None
    found: dict = field(default_factory=dict)  # what earlier links established

    def git_file(self, commit: str, path: str) -> bytes:
        result = git.call(self.root, "show", f"{commit}:{path}", text=False)
        if result.returncode != 0:
            raise Broken(f"{path} is not in commit {commit[:10]}")
        return result.stdout

    def md5(self, path: Path) -> str:
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def dvc_dir(self, md5: str) -> dict[str, str]:
        """{relpath: md5} of a DVC directory object in this clone's cache (DVC 3 layout)."""
        digest = md5.removesuffix(".dir")
        path = self.root / ".dvc" / "cache" / "files" / "md5" / digest[:2] / f"{digest[2:]}.dir"
        if not path.exists():
            raise Broken(
                f"DVC's listing {md5} is not in .dvc/cache; fetch every tag's objects from the store "
                "with `dvc fetch --all-tags`"
            )
        return {item["relpath"]: item["md5"] for item in json.loads(path.read_text(encoding="utf-8"))}

    def cached(self, md5: str) -> Path:
        return self.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]

    def dvc_file(self, path: str) -> Path:
        """The bytes dvc.lock (at the run's commit) recorded for one of its outputs: the cached
        object, or the working file when it is still the same; md5-checked either way."""
        md5 = (self.found["lock"].get(path) or {}).get("md5")
        if md5 is None:
            raise Broken(f"dvc.lock at {self.found['commit'][:10]} records no {path}")
        for candidate in (self.cached(md5), self.root / path):
            if candidate.is_file() and self.md5(candidate) == md5:
                return candidate
        raise Broken(
            f"{path} as dvc.lock recorded it (md5 {md5[:12]}) is neither in .dvc/cache nor here; fetch it "
            "from the store with `dvc fetch --all-tags`"
        )

    def pointer_file(self, path: str, reader: Callable):
        """A pointer file as the run wrote it, through the library's own reader."""
        found = self.dvc_file(path)
        with tempfile.TemporaryDirectory(prefix="reprostack-provenance-") as tmp:
            copy = Path(tmp) / Path(path).name  # the reader may go by the file's name
            copy.write_bytes(found.read_bytes())
            return reader(copy)


def lock_entries(text: bytes) -> dict[str, dict]:
    """{path: dep or out entry} over every stage of a dvc.lock (an out wins over a dep)."""
    data = yaml.safe_load(text) or {}
    found: dict[str, dict] = {}
    for stage in (data.get("stages") or {}).values():
        for item in stage.get("deps") or []:
            if isinstance(item, dict) and "path" in item:
                found.setdefault(item["path"], item)
        for item in stage.get("outs") or []:
            if isinstance(item, dict) and "path" in item:
                found[item["path"]] = item
    return found
