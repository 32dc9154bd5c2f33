"""Immutable data snapshots: data/snapshots/<dataset>/<version>/ with manifest.json.

The version is content-derived (first 12 hex digits of the snapshot digest), so the same
content always maps to the same snapshot and a re-run copies nothing. A snapshot is built in a
hidden temp directory and renamed into place only when complete, so a failure never leaves a
half-written snapshot behind; its files are then made read-only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from reprostack import jsonio
from reprostack.dataset import count_csv_rows
from reprostack.errors import SnapshotError
from reprostack.hashing import CHUNK, sha256_file

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SCHEMA_VERSION = 1
POINTER_SCHEMA_VERSION = 1
TABULAR = {".csv", ".tsv"}


@dataclass(frozen=True)
class Snapshot:
    dataset: str
    version: str
    digest: str
    path: Path

    def pointer(self) -> dict:
        return {"dataset": self.dataset, "version": self.version, "digest": self.digest, "path": self.path.as_posix()}


def list_source_files(source: Path) -> list[str]:
    """Relative POSIX paths of every file under source, sorted; rejects links leaving it."""
    if not source.is_dir():
        raise SnapshotError(f"{source}: not a directory; put the raw data there or set data.raw_dir in conf/data/")
    root = source.resolve()
    files = []
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        dirnames.sort()
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            full = Path(dirpath) / name
            if full.is_symlink() and not full.resolve().is_relative_to(root):
                raise SnapshotError(f"{full}: symlink points outside {source}; copy the file in instead")
            if full.is_file():
                files.append(full.relative_to(source).as_posix())
    if not files:
        raise SnapshotError(f"{source}: no files to snapshot; put the raw data there")
    return sorted(files)


def snapshot_digest(files: list[dict]) -> str:
    """sha256 over the sorted (path, sha256) pairs: names and contents, nothing else."""
    digest = hashlib.sha256()
    for entry in sorted(files, key=lambda e: e["path"]):
        digest.update(f"{entry['sha256']}  {entry['path']}\n".encode("utf-8"))
    return digest.hexdigest()


def _copy_and_hash(src: Path, dst: Path) -> tuple[str, int]:
    """One read of src feeds both the copy and the hash, so the hash is of what was copied."""
    digest, size = hashlib.sha256(), 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _make_read_only(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    root.chmod(root.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def create(source: str | Path, snapshots_root: str | Path, dataset: str, notes: str = "") -> Snapshot:
    """Snapshot every file under source; return the existing snapshot if content is unchanged."""
    source, snapshots_root = Path(source), Path(snapshots_root)
    names = list_source_files(source)
    dataset_dir = snapshots_root / dataset
    dataset_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dataset_dir))
    try:
        files = []
        for name in names:
            sha, size = _copy_and_hash(source / name, staging / name)
            entry = {"path": name, "sha256": sha, "size_bytes": size}
            if Path(name).suffix.lower() in TABULAR:
                entry["rows"] = count_csv_rows(staging / name)
            files.append(entry)
        digest = snapshot_digest(files)
        version = digest[:12]
        final = dataset_dir / version
        if final.exists():
            existing = load_manifest(final)
            if existing["digest"] != digest:
                raise SnapshotError(f"{final}: exists with a different digest; run `reprostack snapshot verify {final}`")
            return Snapshot(dataset, version, digest, final)
        manifest = {
            "dataset": dataset,
            "version": version,
            "digest": digest,
            "files": files,
            "file_count": len(files),
            "total_size_bytes": sum(f["size_bytes"] for f in files),
            "source": source.as_posix(),
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "notes": notes,
        }
        jsonio.write_json(staging / MANIFEST, manifest, schema_version=SCHEMA_VERSION)
        sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in files)
        jsonio.atomic_write_text(staging / SUMS, sums)
        _make_read_only(staging)
        staging.chmod(0o755)  # the rename needs the directory writable only until it lands
        os.rename(staging, final)
        final.chmod(0o555)
        return Snapshot(dataset, version, digest, final)
    finally:
        if staging.exists():
            _make_writable(staging)
            shutil.rmtree(staging)


def load_manifest(snapshot_dir: str | Path) -> dict:
    return jsonio.read_json(
        Path(snapshot_dir) / MANIFEST,
        schema_version=SCHEMA_VERSION,
        required=("dataset", "version", "digest", "files"),
        error=SnapshotError,
        what="snapshot manifest",
    )


def verify(snapshot_dir: str | Path) -> list[str]:
    """Re-read and re-hash every file; return one line per changed, missing or extra file."""
    snapshot_dir = Path(snapshot_dir)
    manifest = load_manifest(snapshot_dir)
    problems = []
    expected = {entry["path"]: entry for entry in manifest["files"]}
    for name, entry in sorted(expected.items()):
        path = snapshot_dir / name
        if not path.is_file():
            problems.append(f"missing: {name}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"changed: {name}")
    present = {
        p.relative_to(snapshot_dir).as_posix() for p in snapshot_dir.rglob("*") if p.is_file()
    } - {MANIFEST, SUMS}
    problems += [f"extra: {name}" for name in sorted(present - set(expected))]
    if snapshot_digest(manifest["files"]) != manifest["digest"]:
        problems.append(f"manifest: digest does not match its file list ({MANIFEST} was edited)")
    return problems


def require_verified(snapshot_dir: str | Path) -> dict:
    """Verify before use: a tampered snapshot stops the caller with the files named."""
    problems = verify(snapshot_dir)
    if problems:
        raise SnapshotError(
            f"snapshot {snapshot_dir} failed verification ({'; '.join(problems)}); "
            "restore it with `dvc checkout` or re-create it from data/raw"
        )
    return load_manifest(snapshot_dir)


def write_pointer(path: str | Path, snapshot: Snapshot) -> None:
    jsonio.write_json(path, snapshot.pointer(), schema_version=POINTER_SCHEMA_VERSION)


def read_pointer(path: str | Path) -> Snapshot:
    data = jsonio.read_json(
        path, schema_version=POINTER_SCHEMA_VERSION, required=("dataset", "version", "digest", "path"),
        error=SnapshotError, what="snapshot pointer",
    )
    return Snapshot(data["dataset"], data["version"], data["digest"], Path(data["path"]))


def list_snapshots(snapshots_root: str | Path) -> list[dict]:
    rows = []
    for manifest_path in sorted(Path(snapshots_root).glob(f"*/*/{MANIFEST}")):
        manifest = load_manifest(manifest_path.parent)
        rows.append({key: manifest.get(key) for key in ("dataset", "version", "file_count", "total_size_bytes", "created_utc")})
    return rows
