"""Snapshot manifests: the schema, its validation, the digest that names a snapshot, and checking
a snapshot directory against its manifest (scan, problems).

A manifest is a superset of the common {dataset, version, files: [{path, size_bytes, sha256}],
created_utc, notes} layout. Everything in it is validated on read, paths included, so a
hand-edited manifest can never make verify look outside its snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from reprostack.core import jsonio
from reprostack.core.errors import SnapshotError
from reprostack.data.hashing import hash_files

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VERSION_RE = re.compile(r"^[0-9a-f]{12}$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def check_name(kind: str, name: str) -> str:
    """Dataset names and labels become path parts: letters, digits, '.', '_', '-' only."""
    if not isinstance(name, str) or not NAME_RE.match(name) or name in (".", "..") or ".." in name:
        raise SnapshotError(
            f"invalid {kind} {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def check_relative_path(path: str) -> str:
    """A manifest path must stay inside the snapshot: relative, no '..', no empty parts."""
    if (
        not isinstance(path, str)
        or not path
        or path.startswith("/")
        or "\\" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise SnapshotError(f"manifest path {path!r} is not a plain relative path inside the snapshot")
    if path in (MANIFEST, SUMS):
        raise SnapshotError(f"a data file may not be called {path!r}: the snapshot reserves that name")
    return path


def sums_text(files: list) -> str:
    """`sha256  path` lines, sorted by path: `sha256sum -c SHA256SUMS` checks the snapshot. Files
    are FileEntry models or dicts with the same keys."""
    pairs = sorted((f["path"], f["sha256"]) if isinstance(f, dict) else (f.path, f.sha256) for f in files)
    return "".join(f"{sha}  {path}\n" for path, sha in pairs)


def digest(files: list) -> str:
    """sha256 over the SHA256SUMS lines: names and contents, nothing else."""
    return hashlib.sha256(sums_text(files).encode("utf-8")).hexdigest()


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    path: str
    sha256: Annotated[str, Field(pattern=SHA_RE.pattern)]
    size_bytes: Annotated[int, Field(ge=0)]
    rows: Annotated[int, Field(ge=0)] | None = None  # data rows of a .csv/.tsv, header excluded

    @field_validator("path")
    @classmethod
    def _inside(cls, path: str) -> str:
        return _as_value_error(check_relative_path, path)


class Manifest(jsonio.Document):
    """manifest.json. Everything is checked on read, paths included, so a hand-edited manifest
    can never make verify look outside its snapshot."""

    dataset: str
    version: str
    digest: str
    files: Annotated[list[FileEntry], Field(min_length=1)]
    file_count: int
    total_size_bytes: int
    source: str
    created_utc: str
    notes: str = ""

    @field_validator("dataset")
    @classmethod
    def _name(cls, dataset: str) -> str:
        return _as_value_error(check_name, "dataset name", dataset)

    @model_validator(mode="after")
    def _consistent(self):
        if len({e.path for e in self.files}) != len(self.files):
            raise PydanticCustomError("manifest", "lists a path twice")
        if digest(self.files) != self.digest:
            raise PydanticCustomError("manifest", "has a digest that does not match its file list (it was edited)")
        if self.version != self.digest[:12]:
            raise PydanticCustomError("manifest", "has a version that does not match its digest")
        return self

    def to_json(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)  # no `"rows": null` on non-tabular files


def _as_value_error(check, *args):
    try:
        return check(*args)
    except SnapshotError as exc:
        raise PydanticCustomError("manifest", str(exc)) from None


def load(snapshot_dir: str | Path) -> Manifest:
    return jsonio.load(Path(snapshot_dir) / MANIFEST, Manifest, error=SnapshotError, what="snapshot manifest")


def to_text(data: dict) -> str:
    """Sorted keys, one file entry per line: diffable, and fast for 20,000 files (an indented
    json.dumps runs the pure-Python encoder and costs most of a snapshot's time)."""
    lines = []
    for key, value in sorted(data.items()):
        if key == "files":
            entries = ",\n".join("    " + json.dumps(e, sort_keys=True, ensure_ascii=False) for e in value)
            rendered = "[\n" + entries + "\n  ]"
        else:
            rendered = json.dumps(value, sort_keys=True, ensure_ascii=False)
        lines.append(f"  {json.dumps(key)}: {rendered}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write(snapshot_dir: str | Path, data: dict) -> Manifest:
    """Validate `data` (a manifest without schema_version) and write manifest.json and SHA256SUMS."""
    snapshot_dir = Path(snapshot_dir)
    doc = jsonio.parse(
        {**data, "schema_version": Manifest.SCHEMA_VERSION},
        Manifest,
        error=SnapshotError,
        where=f"snapshot manifest {snapshot_dir / MANIFEST}",
    )
    jsonio.atomic_write_text(snapshot_dir / MANIFEST, to_text(doc.to_json()))
    jsonio.atomic_write_text(snapshot_dir / SUMS, sums_text(doc.files))
    return doc


# ---- checking a snapshot directory against its manifest -------------------------------------


def scan(root: str | Path):
    """(relative POSIX path, DirEntry) for everything under root but directories; links are
    not followed. os.scandir, not pathlib: 20,000 files must not cost seconds of path objects."""
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(os.path.join(root, rel_dir)) as entries:
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append(rel)
                else:
                    yield rel, entry


def problems(snapshot_dir: Path, data: Manifest) -> list[str]:
    """One line per file of snapshot_dir missing, changed or extra against its manifest `data`."""
    expected = {entry.path: entry for entry in data.files}
    present = {rel for rel, _ in scan(snapshot_dir)} - {MANIFEST, SUMS}
    found = [f"missing: {name}" for name in sorted(set(expected) - present)]
    names = sorted(set(expected) & present)
    for name, h in zip(names, hash_files([os.path.join(snapshot_dir, n) for n in names])):
        if h.sha256 != expected[name].sha256 or h.size != expected[name].size_bytes:
            found.append(f"changed: {name}")
    found += [f"extra: {name}" for name in sorted(present - set(expected))]
    return sorted(found, key=lambda p: p.split(": ", 1)[1])
