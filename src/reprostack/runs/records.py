"""Run records: runs/<run_id>.json ties code, data, params and environment to the outputs.

Records are never overwritten: the file is linked into place from a complete temp file, so two
runs can never clobber each other and a crash leaves no partial record.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from reprostack import git, jsonio
from reprostack.data.hashing import sha256_bytes
from reprostack.errors import RunRecordError

SCHEMA_VERSION = 1
RUN_ID_RE = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{6}$")
REQUIRED = ("run_id", "created_utc", "code", "data", "params", "environment", "outputs")


def new_run_id(now: datetime | None = None) -> str:
    """Sorts by time (microseconds, UTC), unique thanks to a random suffix."""
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(3)}"


def pipeline_outputs(root: str | Path = ".", runs_dir: str = "runs") -> list[str]:
    """Paths the pipeline itself writes (dvc.lock, every declared out, run records).

    They change during every run, so they must not make the code look dirty.
    """
    import yaml

    paths = {"dvc.lock", runs_dir}
    lock = Path(root) / "dvc.lock"
    if lock.is_file():
        data = yaml.safe_load(lock.read_text(encoding="utf-8")) or {}
        for stage in (data.get("stages") or {}).values():
            paths.update(out["path"] for out in stage.get("outs", []) if isinstance(out, dict) and "path" in out)
    return sorted(paths)


def git_state(root: str | Path = ".", exclude: list[str] | None = None) -> dict:
    """Commit, dirty flag and a hash of the uncommitted diff; nulls outside a git repository.

    Paths in `exclude` (the pipeline's own outputs) do not count as dirt.
    """
    root = Path(root)
    head = git.rev_parse(root, "HEAD")
    if head is None:
        return {"commit": None, "dirty": None, "diff_sha256": None, "changed": []}
    spec = [".", *[f":(exclude){path}" for path in exclude or []]]
    changed = git.changed_paths(root, *spec) or []
    diff = git.call(root, "diff", "HEAD", "--binary", "--", *spec, text=False).stdout if changed else b""
    return {
        "commit": head,
        "dirty": bool(changed),
        "diff_sha256": sha256_bytes(diff) if changed else None,
        "changed": changed,
    }


def commit_exists(root: str | Path, commit: str) -> bool:
    return git.ok(root, "cat-file", "-e", f"{commit}^{{commit}}")


def write_record(runs_dir: str | Path, record: dict) -> Path:
    """Create runs/<run_id>.json; refuse to overwrite an existing record."""
    final = Path(runs_dir) / f"{record['run_id']}.json"
    try:
        jsonio.atomic_write_bytes(final, jsonio.dumps({**record, "schema_version": SCHEMA_VERSION}).encode("utf-8"),
                                  exclusive=True)
    except FileExistsError:
        raise RunRecordError(f"run record {final} already exists; run records are never overwritten") from None
    return final


def read_record(runs_dir: str | Path, run_id: str) -> dict:
    """Read and check one record; a hand-edited record is an error, not a silent half-truth."""
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise RunRecordError(f"invalid run id {run_id!r}; list them with `reprostack runs list`")
    path = Path(runs_dir) / f"{run_id}.json"
    if not path.exists():
        raise RunRecordError(f"no run {run_id!r} in {runs_dir}/; list them with `reprostack runs list`")
    record = jsonio.read_json(path, schema_version=SCHEMA_VERSION, required=REQUIRED,
                              error=RunRecordError, what="run record")
    if record["run_id"] != run_id:
        raise RunRecordError(f"run record {path} names run {record['run_id']!r}; it was edited or renamed by hand")
    for key in ("code", "data", "params", "environment", "outputs"):
        if not isinstance(record[key], dict):
            raise RunRecordError(f"run record {path}: {key} must be an object; it was edited by hand")
    return record


def list_records(runs_dir: str | Path) -> list[dict]:
    return [read_record(runs_dir, path.stem) for path in sorted(Path(runs_dir).glob("*.json"))]


def resolve_run_id(runs_dir: str | Path, ref: str) -> str:
    """A full run id, a unique prefix of one, or 'latest'."""
    ids = sorted(path.stem for path in Path(runs_dir).glob("*.json"))
    if ref == "latest" and ids:
        return ids[-1]
    matches = [run_id for run_id in ids if ref and run_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunRecordError(f"no run {ref!r} in {runs_dir}/; list them with `reprostack runs list`")
    raise RunRecordError(f"run id prefix {ref!r} matches {len(matches)} runs; give more characters")
