"""Immutable data snapshots: data/snapshots/<dataset>/<version>/ with manifest.json.

The version is content-derived (first 12 hex digits of the digest), so the same content maps
to the same snapshot and a re-run adds nothing. A snapshot is assembled in a hidden temp
directory and renamed into place only when complete, so a failure never leaves half of one.

Disk: by default files are hard-linked from the source instead of copied, and DVC's cache is
configured to hard-link too (.dvc/config), so raw + snapshot + cache share one copy of each
file. The price: a linked file is made read-only, and that mode is shared with the source file,
so editing data/raw means replacing a file (save-as, cp, git checkout), not writing into it.
`link: copy` in conf/data/ trades disk for independence.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from reprostack import jsonio
from reprostack.data import manifest
from reprostack.data.hashing import FileHash, hash_file, hash_files, in_parallel
from reprostack.errors import SnapshotError

POINTER_SCHEMA_VERSION = 1
LABELS = "labels.json"
LABELS_SCHEMA_VERSION = 1
TABULAR = frozenset({".csv", ".tsv"})
LINK_MODES = ("hardlink", "copy")
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


@dataclass(frozen=True)
class Snapshot:
    dataset: str
    version: str
    digest: str
    path: Path

    def pointer(self) -> dict:
        return {"dataset": self.dataset, "version": self.version, "digest": self.digest, "path": self.path.as_posix()}


def _scan(root: str | Path):
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


def list_source_files(source: Path) -> list[str]:
    """Relative POSIX paths of every file under source, sorted; rejects links leaving it."""
    if not source.is_dir():
        raise SnapshotError(f"{source}: not a directory; put the raw data there or set data.raw_dir in conf/data/")
    root = os.path.realpath(source)
    files: list[str] = []
    for rel, entry in _scan(source):
        if entry.is_symlink() and os.path.commonpath([root, os.path.realpath(entry.path)]) != root:
            raise SnapshotError(f"{entry.path}: symlink points outside {source}; copy the file in instead")
        if entry.is_file():
            files.append(manifest.check_relative_path(rel))
        elif entry.is_dir():
            raise SnapshotError(f"{entry.path}: symlink to a directory; copy the directory in instead")
        else:
            raise SnapshotError(f"{entry.path}: not a regular file (socket, fifo or broken link); remove it")
    if not files:
        raise SnapshotError(f"{source}: no files to snapshot; put the raw data there")
    return sorted(files)


def _place(src: str, dst: str, link: str) -> None:
    if link == "hardlink":
        try:
            os.link(src, dst)
            return
        except PermissionError:
            raise SnapshotError(f"{src}: cannot read the file (permission denied); fix its permissions") from None
        except OSError:
            pass  # another filesystem, or links unsupported: fall back to a copy
    try:
        shutil.copyfile(src, dst)
    except PermissionError:
        raise SnapshotError(f"{src}: cannot read the file (permission denied); fix its permissions") from None


def create(source: str | Path, snapshots_root: str | Path, dataset: str, *, notes: str = "",
           label: str | None = None, link: str = "hardlink", only: list[str] | None = None) -> Snapshot:
    """Snapshot every file under source (or only those named, relative to it: the data, not a
    README beside it); return the existing snapshot if content is unchanged."""
    manifest.check_name("dataset name", dataset)
    if label is not None:
        check_label(label)
    if link not in LINK_MODES:
        raise SnapshotError(f"unknown link mode {link!r}; use one of {', '.join(LINK_MODES)}")
    source, snapshots_root = Path(source), Path(snapshots_root)
    names = list_source_files(source)
    if only is not None:
        missing = sorted(set(only) - set(names))
        if missing:
            raise SnapshotError(f"{source / missing[0]}: no such file; put the data there or set data.file in conf/data/")
        names = sorted(set(only))
    dataset_dir = snapshots_root / dataset
    dataset_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dataset_dir))
    try:
        for parent in sorted({os.path.dirname(name) for name in names} - {""}):
            os.makedirs(staging / parent, exist_ok=True)

        def place_and_hash(name: str) -> FileHash:
            target = os.path.join(staging, name)
            _place(os.path.join(source, name), target, link)
            h = hash_file(target, os.path.splitext(name)[1].lower() in TABULAR)
            os.chmod(target, READ_ONLY)
            return h

        hashes = in_parallel(place_and_hash, names)
        files = []
        for name, h in zip(names, hashes):
            entry = {"path": name, "sha256": h.sha256, "size_bytes": h.size}
            if h.lines is not None:
                entry["rows"] = max(h.lines - 1, 0)  # lines after the header row
            files.append(entry)
        digest = manifest.digest(files)
        final = dataset_dir / digest[:12]
        if not final.exists():
            manifest.write(staging, {
                "dataset": dataset,
                "version": digest[:12],
                "digest": digest,
                "files": files,
                "file_count": len(files),
                "total_size_bytes": sum(f["size_bytes"] for f in files),
                "source": source.as_posix(),
                "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "notes": notes,
            })
            for name in (manifest.MANIFEST, manifest.SUMS):
                os.chmod(staging / name, READ_ONLY)
            staging.chmod(0o755)
            os.rename(staging, final)
        elif manifest.load(final)["digest"] != digest:
            raise SnapshotError(f"{final}: exists with a different digest; run `reprostack snapshot verify {final.name}`")
        snap = Snapshot(dataset, digest[:12], digest, final)
        if label is not None:
            add_label(dataset_dir, label, snap.version)
        return snap
    finally:
        if staging.exists():
            # Unlinking needs only the (writable) directories. Never chmod these files: a hard
            # link shares its mode with data/raw and with the finished snapshot of the same data.
            shutil.rmtree(staging)


# ---- labels ---------------------------------------------------------------------------------

def check_label(label: str) -> str:
    manifest.check_name("label", label)
    if manifest.VERSION_RE.match(label):
        raise SnapshotError(f"label {label!r} looks like a snapshot version; pick a name such as v0.1")
    return label


def labels(dataset_dir: str | Path) -> dict[str, str]:
    path = Path(dataset_dir) / LABELS
    if not path.exists():
        return {}
    return jsonio.read_json(path, schema_version=LABELS_SCHEMA_VERSION, required=("labels",),
                            error=SnapshotError, what="snapshot labels")["labels"]


def add_label(dataset_dir: str | Path, label: str, version: str) -> None:
    """Labels are immutable too: a label names one snapshot forever."""
    current = labels(dataset_dir)
    if current.get(label, version) != version:
        raise SnapshotError(f"label {label!r} already names snapshot {current[label]}; labels cannot move, pick a new one")
    if label not in current:
        jsonio.write_json(Path(dataset_dir) / LABELS, {"labels": {**current, label: version}},
                          schema_version=LABELS_SCHEMA_VERSION)


# ---- reading ----------------------------------------------------------------------------------

def load_manifest(snapshot_dir: str | Path) -> dict:
    return manifest.load(snapshot_dir)


def locate(snapshots_root: str | Path, dataset: str, ref: str) -> Path:
    """A snapshot directory from a version, a label, or a path."""
    manifest.check_name("dataset name", dataset)
    dataset_dir = Path(snapshots_root) / dataset
    if manifest.VERSION_RE.match(ref):
        path = dataset_dir / ref
    elif Path(ref).is_dir() and (Path(ref) / manifest.MANIFEST).exists():
        return Path(ref)
    else:
        known = labels(dataset_dir)
        if check_label(ref) not in known:
            raise SnapshotError(f"no snapshot {ref!r} in dataset {dataset!r}; list them with `reprostack snapshot list`")
        path = dataset_dir / known[ref]
    if not (path / manifest.MANIFEST).exists():
        raise SnapshotError(f"no snapshot {ref!r} in dataset {dataset!r}; list them with `reprostack snapshot list`")
    return path


def verify(snapshot_dir: str | Path) -> list[str]:
    """Re-read and re-hash every file; return one line per changed, missing or extra file."""
    return _problems(Path(snapshot_dir), manifest.load(snapshot_dir))


def _problems(snapshot_dir: Path, data: dict) -> list[str]:
    expected = {entry["path"]: entry for entry in data["files"]}
    present = {rel for rel, _ in _scan(snapshot_dir)} - {manifest.MANIFEST, manifest.SUMS}
    problems = [f"missing: {name}" for name in sorted(set(expected) - present)]
    names = sorted(set(expected) & present)
    for name, h in zip(names, hash_files([os.path.join(snapshot_dir, n) for n in names])):
        if h.sha256 != expected[name]["sha256"] or h.size != expected[name]["size_bytes"]:
            problems.append(f"changed: {name}")
    problems += [f"extra: {name}" for name in sorted(present - set(expected))]
    return sorted(problems, key=lambda p: p.split(": ", 1)[1])


def require_verified(snapshot_dir: str | Path) -> dict:
    """Verify before use: a tampered snapshot stops the caller with the files named."""
    data = manifest.load(snapshot_dir)
    problems = _problems(Path(snapshot_dir), data)
    if problems:
        raise SnapshotError(
            f"snapshot {snapshot_dir} failed verification ({'; '.join(problems)}); "
            "restore it with `dvc checkout` or re-create it from data/raw"
        )
    return data


def diff(a_dir: str | Path, b_dir: str | Path) -> dict[str, list[str]]:
    """Files added, removed and changed from snapshot a to snapshot b, from their manifests."""
    a = {e["path"]: e["sha256"] for e in manifest.load(a_dir)["files"]}
    b = {e["path"]: e["sha256"] for e in manifest.load(b_dir)["files"]}
    return {
        "added": sorted(set(b) - set(a)),
        "removed": sorted(set(a) - set(b)),
        "changed": sorted(p for p in set(a) & set(b) if a[p] != b[p]),
    }


def list_snapshots(snapshots_root: str | Path) -> list[dict]:
    rows = []
    root = Path(snapshots_root)
    for dataset_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        by_version: dict[str, list[str]] = {}
        for label, version in labels(dataset_dir).items():
            by_version.setdefault(version, []).append(label)
        for manifest_path in sorted(dataset_dir.glob(f"*/{manifest.MANIFEST}")):
            data = manifest.load(manifest_path.parent)
            row = {key: data.get(key) for key in ("dataset", "version", "file_count", "total_size_bytes", "created_utc")}
            row["labels"] = sorted(by_version.get(data["version"], []))
            rows.append(row)
    return sorted(rows, key=lambda r: (r["dataset"], r["created_utc"] or "", r["version"]))


# ---- pointer ----------------------------------------------------------------------------------

def write_pointer(path: str | Path, snapshot: Snapshot) -> None:
    jsonio.write_json(path, snapshot.pointer(), schema_version=POINTER_SCHEMA_VERSION)


def read_pointer(path: str | Path) -> Snapshot:
    data = jsonio.read_json(
        path, schema_version=POINTER_SCHEMA_VERSION, required=("dataset", "version", "digest", "path"),
        error=SnapshotError, what="snapshot pointer",
    )
    return Snapshot(data["dataset"], data["version"], data["digest"], Path(data["path"]))
