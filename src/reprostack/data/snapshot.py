"""Immutable data snapshots: data/snapshots/<dataset>/<version>/ with manifest.json.

The version is content-derived (first 12 hex digits of the digest), so the same content maps
to the same snapshot and a re-run adds nothing. A snapshot is assembled in a hidden temp
directory and renamed into place only when complete, so a failure never leaves half of one.

Disk: files enter a snapshot copy-on-write (data/cow.py): a reflink where the filesystem
supports it (no extra disk until one side changes), a copy otherwise (twice the disk). Never an
alias of a file a user may write, so no write to data/raw can reach a snapshot.
`link: hardlink` in conf/data/ opts into hard links (one copy on disk) with that risk: a root
user writing into a raw file in place rewrites the snapshot too (`verify` reports it).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from reprostack.core import faults, leftovers, writer
from reprostack.core.errors import HashingError, SnapshotError
from reprostack.data import cow, manifest
from reprostack.data.hashing import FileHash, hash_file, hash_files, in_parallel

# labels live in refs.py (with the pointer file); these names stay importable from here
from reprostack.data.refs import LABELS, Snapshot, add_label, check_label, labels

__all__ = [
    "LABELS",
    "Snapshot",
    "add_label",
    "check_label",
    "create",
    "diff",
    "labels",
    "list_snapshots",
    "list_source_files",
    "locate",
    "require_verified",
    "verify",
]
TABULAR = frozenset({".csv", ".tsv"})
LINK_MODES = cow.MODES
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def list_source_files(source: Path) -> list[str]:
    """Relative POSIX paths of every file under source, sorted; rejects links leaving it."""
    if not source.is_dir():
        raise SnapshotError(f"{source}: not a directory; put the raw data there or set data.raw_dir in conf/data/")
    root = os.path.realpath(source)
    files: list[str] = []
    for rel, entry in manifest.scan(source):
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
    try:
        cow.place(src, dst, link)
    except PermissionError:
        raise SnapshotError(f"{src}: cannot read the file (permission denied); fix its permissions") from None


def create(
    source: str | Path,
    snapshots_root: str | Path,
    dataset: str,
    *,
    notes: str = "",
    label: str | None = None,
    link: str = "copy",
    repair: bool = False,
    only: list[str] | None = None,
) -> Snapshot:
    """Snapshot every file under source (or only those named, relative to it: the data, not a
    README beside it); return the existing snapshot if content is unchanged.

    An existing snapshot is re-hashed before it is trusted: a damaged one is an error, or with
    repair=True it is replaced by the fresh copy just staged from source (same digest)."""
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
            raise SnapshotError(
                f"{source / missing[0]}: no such file; put the data there or set data.file in conf/data/"
            )
        names = sorted(set(only))
    dataset_dir = snapshots_root / dataset
    dataset_dir.mkdir(parents=True, exist_ok=True)
    # one writer per dataset (core/writer.py): a second `snapshot create` or stage waits for it
    with writer.exclusive(dataset_dir, f"the snapshots of {dataset_dir}"):
        return _create(source, names, dataset_dir, dataset, notes, label, link, repair)


def _create(source, names, dataset_dir, dataset, notes, label, link, repair) -> Snapshot:
    leftovers.remove_dead_staging(dataset_dir)
    # Hash the source first: a snapshot of the same content that exists (and re-hashes clean) is
    # the answer, and nothing is copied; only new content is staged.
    try:
        files = _entries(names, hash_files([source / name for name in names], TABULAR))
    except HashingError as exc:  # unreadable or changing: the snapshot's error, same words
        raise SnapshotError(str(exc)) from None
    digest = manifest.digest(files)
    final = dataset_dir / digest[:12]
    origin = f"--source {source} --dataset {dataset}"
    damaged = _existing_problems(final, digest) if final.exists() else None
    if damaged and not repair:
        raise SnapshotError(
            f"snapshot {final} is damaged ({'; '.join(damaged)}); its source still holds the right content: "
            f"rebuild it with `reprostack snapshot create --repair {origin}`"
        )
    if damaged or not final.exists():
        _stage(source, names, files, final, link, notes, damaged is not None)
    snap = Snapshot(dataset=dataset, version=digest[:12], digest=digest, path=final)
    if label is not None:
        add_label(dataset_dir, label, snap.version)
    return snap


def _entries(names: list[str], hashes: list[FileHash]) -> list[dict]:
    files = []
    for name, h in zip(names, hashes):
        entry = {"path": name, "sha256": h.sha256, "size_bytes": h.size}
        if h.lines is not None:
            entry["rows"] = max(h.lines - 1, 0)  # lines after the header row
        files.append(entry)
    return files


def _stage(source: Path, names: list[str], files: list[dict], final: Path, link: str, notes: str, replace: bool):
    """Place the files in a hidden staging directory, prove each copy holds the bytes hashed
    from the source, and rename it into place (a damaged snapshot moved aside first)."""
    staging = Path(tempfile.mkdtemp(prefix=leftovers.staging_prefix(), dir=final.parent))
    aside = None
    try:
        for parent in sorted({os.path.dirname(name) for name in names} - {""}):
            os.makedirs(staging / parent, exist_ok=True)

        def place_and_hash(name: str) -> FileHash:
            target = os.path.join(staging, name)
            _place(os.path.join(source, name), target, link)
            h = hash_file(target)
            os.chmod(target, READ_ONLY)
            return h

        for entry, h in zip(files, in_parallel(place_and_hash, names)):
            if h.sha256 != entry["sha256"]:
                raise SnapshotError(f"{source / entry['path']} changed while it was snapshotted; run it again")
        manifest.write(
            staging,
            {
                "dataset": final.parent.name,
                "version": final.name,
                "digest": manifest.digest(files),
                "files": files,
                "file_count": len(files),
                "total_size_bytes": sum(f["size_bytes"] for f in files),
                "source": source.as_posix(),
                "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "notes": notes,
            },
        )
        for name in (manifest.MANIFEST, manifest.SUMS):
            os.chmod(staging / name, READ_ONLY)
        staging.chmod(0o755)
        if replace and final.exists():  # under a staging name: a kill before its removal leaves only leftovers
            aside = staging.with_name(staging.name + "-damaged")
            os.rename(final, aside)
        faults.point("snapshot.before-rename")
        os.rename(staging, final)
    finally:
        if staging.exists():
            # Unlinking needs only the (writable) directories. Never chmod these files: a hard
            # link shares its mode with data/raw and with the finished snapshot of the same data.
            shutil.rmtree(staging)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)  # what remains is a dead staging leftover


def _existing_problems(final: Path, digest: str) -> list[str]:
    """Re-hash the snapshot already at `final` (same content as the source): its problems."""
    try:
        data = manifest.load(final)
        return manifest.problems(final, data) if data.digest == digest else ["manifest.json names another digest"]
    except SnapshotError as exc:
        return [str(exc)]


# ---- reading ----------------------------------------------------------------------------------


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
            raise SnapshotError(
                f"no snapshot {ref!r} in dataset {dataset!r}; list them with `reprostack snapshot list`"
            )
        path = dataset_dir / known[ref]
    if not (path / manifest.MANIFEST).exists():
        raise SnapshotError(f"no snapshot {ref!r} in dataset {dataset!r}; list them with `reprostack snapshot list`")
    return path


def verify(snapshot_dir: str | Path) -> list[str]:
    """Re-read and re-hash every file; return one line per changed, missing or extra file."""
    return manifest.problems(Path(snapshot_dir), manifest.load(snapshot_dir))


def require_verified(snapshot_dir: str | Path) -> manifest.Manifest:
    """Verify before use: a tampered snapshot stops the caller with the files named."""
    data = manifest.load(snapshot_dir)
    problems = manifest.problems(Path(snapshot_dir), data)
    if problems:
        raise SnapshotError(
            f"snapshot {snapshot_dir} failed verification ({'; '.join(problems)}); "
            "restore it with `dvc checkout` or re-create it from data/raw"
        )
    return data


def diff(a_dir: str | Path, b_dir: str | Path) -> dict[str, list[str]]:
    """Files added, removed and changed from snapshot a to snapshot b, from their manifests."""
    a = {e.path: e.sha256 for e in manifest.load(a_dir).files}
    b = {e.path: e.sha256 for e in manifest.load(b_dir).files}
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
            row = data.model_dump(include={"dataset", "version", "file_count", "total_size_bytes", "created_utc"})
            row["labels"] = sorted(by_version.get(data.version, []))
            rows.append(row)
    return sorted(rows, key=lambda r: (r["dataset"], r["created_utc"] or "", r["version"]))
