"""sha256 helpers, streaming and parallel.

Files are read in 1 MiB chunks into one reused buffer per worker, so memory stays bounded
whatever the file size. hashlib releases the GIL while it hashes, so threads use every core
without the cost of processes.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reprostack.core.errors import HashingError

CHUNK = 1 << 20
NEWLINE = ord("\n")
_local = threading.local()


def _buffer() -> bytearray:
    """One read buffer per thread: allocating 1 MiB per file would dominate small files."""
    buffer = getattr(_local, "buffer", None)
    if buffer is None:
        buffer = _local.buffer = bytearray(CHUNK)
    return buffer


@dataclass(frozen=True)
class FileHash:
    sha256: str
    size: int
    lines: int | None  # text lines (a last line without newline counts), when asked for


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: str | Path) -> str:
    return hash_file(path).sha256


def hash_file(path: str | Path, count_lines: bool = False) -> FileHash:
    """Hash one file; fail if it changes while being read (size or mtime moves)."""
    digest, size, lines, last = hashlib.sha256(), 0, 0, NEWLINE
    buffer = _buffer()
    view = memoryview(buffer)
    try:
        with open(path, "rb", buffering=0) as handle:
            before = os.fstat(handle.fileno())
            while n := handle.readinto(buffer):
                digest.update(view[:n])
                size += n
                if count_lines:
                    lines += buffer.count(b"\n", 0, n)
                    last = buffer[n - 1]
            after = os.fstat(handle.fileno())
    except PermissionError:
        raise HashingError(f"{path}: cannot read the file (permission denied); fix its permissions") from None
    except IsADirectoryError:
        raise HashingError(f"{path}: expected a file, found a directory") from None
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or size != after.st_size:
        raise HashingError(f"{path}: the file changed while it was being hashed; stop writing to it and retry")
    if count_lines and last != NEWLINE:
        lines += 1
    return FileHash(digest.hexdigest(), size, lines if count_lines else None)


def in_parallel(func, items: list, workers: int | None = None, batch: int = 64) -> list:
    """func(item) for every item on every core, in input order.

    Items go to threads in batches: one future per small file costs more than hashing it.
    """
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(items) <= batch:
        return [func(item) for item in items]
    batches = [items[i : i + batch] for i in range(0, len(items), batch)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [result for part in pool.map(lambda b: [func(item) for item in b], batches) for result in part]


def hash_files(
    paths: Iterable[str | Path], count_lines_for: frozenset[str] = frozenset(), workers: int | None = None
) -> list[FileHash]:
    """Hash many files on every core; results come back in input order."""

    def one(path):
        return hash_file(path, os.path.splitext(path)[1].lower() in count_lines_for)

    return in_parallel(one, [os.fspath(p) for p in paths], workers)
