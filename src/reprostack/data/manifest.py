"""Snapshot manifests: the schema, its validation, and the digest that names a snapshot.

A manifest is a superset of the common {dataset, version, files: [{path, size_bytes, sha256}],
created_utc, notes} layout. Everything in it is validated on read, paths included, so a
hand-edited manifest can never make verify look outside its snapshot.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from reprostack import jsonio
from reprostack.errors import SnapshotError

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SCHEMA_VERSION = 1
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
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path \
            or any(part in ("", ".", "..") for part in path.split("/")):
        raise SnapshotError(f"manifest path {path!r} is not a plain relative path inside the snapshot")
    if path in (MANIFEST, SUMS):
        raise SnapshotError(f"a data file may not be called {path!r}: the snapshot reserves that name")
    return path


def digest(files: list[dict]) -> str:
    """sha256 over the sorted `sha256  path` lines: names and contents, nothing else."""
    h = hashlib.sha256()
    for entry in sorted(files, key=lambda e: e["path"]):
        h.update(f"{entry['sha256']}  {entry['path']}\n".encode("utf-8"))
    return h.hexdigest()


def sums_text(files: list[dict]) -> str:
    """The same lines as the digest: `sha256sum -c SHA256SUMS` checks the snapshot."""
    return "".join(f"{f['sha256']}  {f['path']}\n" for f in sorted(files, key=lambda e: e["path"]))


def validate(data: dict, where: str) -> dict:
    def bad(why: str) -> SnapshotError:
        return SnapshotError(f"snapshot manifest {where} {why}; restore it with `dvc checkout` or re-create the snapshot")

    files = data.get("files")
    if not isinstance(files, list) or not files:
        raise bad("has no file list")
    for entry in files:
        if not isinstance(entry, dict) or not {"path", "sha256", "size_bytes"} <= set(entry):
            raise bad("has a file entry without path, sha256 and size_bytes")
        check_relative_path(entry["path"])
        if not isinstance(entry["sha256"], str) or not SHA_RE.match(entry["sha256"]):
            raise bad(f"has a malformed sha256 for {entry['path']!r}")
    if len({e["path"] for e in files}) != len(files):
        raise bad("lists a path twice")
    if digest(files) != data.get("digest"):
        raise bad("has a digest that does not match its file list (it was edited)")
    if data.get("version") != data["digest"][:12]:
        raise bad("has a version that does not match its digest")
    check_name("dataset name", data.get("dataset"))
    return data


def load(snapshot_dir: str | Path) -> dict:
    path = Path(snapshot_dir) / MANIFEST
    data = jsonio.read_json(
        path, schema_version=SCHEMA_VERSION, required=("dataset", "version", "digest", "files"),
        error=SnapshotError, what="snapshot manifest",
    )
    return validate(data, str(path))


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


def write(snapshot_dir: str | Path, data: dict) -> None:
    snapshot_dir = Path(snapshot_dir)
    data = {**data, "schema_version": SCHEMA_VERSION}
    validate(data, str(snapshot_dir / MANIFEST))
    jsonio.atomic_write_text(snapshot_dir / MANIFEST, to_text(data))
    jsonio.atomic_write_text(snapshot_dir / SUMS, sums_text(data["files"]))
