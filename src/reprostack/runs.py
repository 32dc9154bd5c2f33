"""Run records: runs/<run_id>.json ties code, data, params and environment to the outputs.

Records are never overwritten: the file is created with O_EXCL semantics (link of a complete
temp file), so two runs can never clobber each other and a crash leaves no partial record.
"""

from __future__ import annotations

import os
import platform
import secrets
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from reprostack import jsonio
from reprostack.errors import RunRecordError
from reprostack.hashing import sha256_bytes, sha256_file

SCHEMA_VERSION = 1
LOCK_FILE = "requirements.lock"


def new_run_id(now: datetime | None = None) -> str:
    """Sorts by time (microseconds, UTC), unique thanks to a random suffix."""
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(3)}"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)


def git_state(root: str | Path = ".") -> dict:
    """Commit, dirty flag and a hash of the uncommitted diff; nulls outside a git repository."""
    root = Path(root)
    head = _git(root, "rev-parse", "HEAD")
    if head.returncode != 0:
        return {"commit": None, "dirty": None, "diff_sha256": None}
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    diff = _git(root, "diff", "HEAD", "--binary")
    return {
        "commit": head.stdout.decode().strip(),
        "dirty": bool(status.stdout.strip()),
        "diff_sha256": sha256_bytes(diff.stdout) if status.stdout.strip() else None,
    }


def environment(root: str | Path = ".") -> dict:
    lock = Path(root) / LOCK_FILE
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "requirements_lock_sha256": sha256_file(lock) if lock.is_file() else None,
    }


def write_record(runs_dir: str | Path, record: dict) -> Path:
    """Create runs/<run_id>.json; refuse to overwrite an existing record."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    final = runs_dir / f"{record['run_id']}.json"
    fd, tmp = tempfile.mkstemp(prefix=".run-", suffix=".tmp", dir=runs_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(jsonio.dumps({**record, "schema_version": SCHEMA_VERSION}))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, final)
        except FileExistsError:
            raise RunRecordError(f"run record {final} already exists; run records are never overwritten") from None
    finally:
        os.unlink(tmp)
    return final


def read_record(runs_dir: str | Path, run_id: str) -> dict:
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise RunRecordError(f"invalid run id {run_id!r}; list them with `reprostack runs list`")
    return jsonio.read_json(
        Path(runs_dir) / f"{run_id}.json", schema_version=SCHEMA_VERSION,
        required=("run_id", "created_utc", "code", "params", "outputs"), error=RunRecordError, what="run record",
    )


def list_records(runs_dir: str | Path) -> list[dict]:
    return [read_record(runs_dir, path.stem) for path in sorted(Path(runs_dir).glob("*.json"))]
