"""Run records: runs/<run_id>.json ties code, data, params and environment to the outputs.

A record is a `RunRecord` (jsonio.Document). Its top level carries the seed's repro record
(run_id, code_commit, data_snapshot, params, env {python, requirements_lock}, outputs
{model_version, metrics}) beside the richer fields. Records are append-only history in git, so
`outputs.model_version` stays null in the file: a model is released after its run was
committed, and `with_release` fills it in at read time from the registry (which names the run).

Records are never overwritten: the file is linked into place from a complete temp file, so two
runs can never clobber each other and a crash leaves no partial record.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from reprostack.core import git, jsonio
from reprostack.core.errors import RunRecordError
from reprostack.data.hashing import sha256_bytes

RUN_ID_RE = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{6}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Code(_Strict):
    commit: str | None = None
    dirty: bool | None = None
    diff_sha256: str | None = None
    changed: list[str] = []
    # each changed file's git blob id (None: deleted), so `runs reproduce` can find the commit that
    # holds them (runs/commits.py); absent in records made before run-then-commit
    blobs: dict[str, str | None] | None = None


class Env(_Strict):
    """The seed's `env`: enough to rebuild the environment (the lock is pinned by its hash)."""

    python: str | None = None
    requirements_lock: str | None = Field(None, pattern=r"^sha256:[0-9a-f]{64}$")


class ModelFile(_Strict):
    path: str
    sha256: str


class Outputs(_Strict):
    model_version: str | None = None  # null in the file; see `with_release`
    metrics: dict[str, Any] = {}
    model: ModelFile | None = None


class StageRun(_Strict):
    stage: str
    started_utc: str
    finished_utc: str
    seconds: float


class RunRecord(jsonio.Document):
    SCHEMA_VERSION: ClassVar[int] = 2
    run_id: str = Field(pattern=RUN_ID_RE.pattern)
    code_commit: str | None = None
    data_snapshot: str | None = None  # <dataset>@<snapshot version>
    params: dict[str, Any]
    env: Env
    outputs: Outputs
    created_utc: str
    started_utc: str | None = None
    finished_utc: str | None = None
    stages: list[StageRun] = []
    code: Code
    data: dict[str, Any]
    params_overrides: dict[str, Any] | None = None
    environment: dict[str, Any]  # environment.capture(): platform, cpu, threads, packages
    vectors: dict[str, Any] | None = None  # the vector pointer the run read
    # how those vectors were embedded: {"name": "local"|"ray", "cluster": {address, ray_version,
    # nodes, resources} or None}; absent in records from before embedding.engine
    engine: dict[str, Any] | None = None

    @classmethod
    def migrate(cls, data: dict, found: int) -> dict:
        # schema 1 (before issue 12) had only the rich fields; derive the seed's from them
        return {**data, **summary(data)}


def summary(record: dict) -> dict:
    """The seed's top-level fields, derived from the rich ones."""
    code, data, environment = record.get("code") or {}, record.get("data") or {}, record.get("environment") or {}
    lock = environment.get("requirements_lock_sha256")
    return {
        "code_commit": code.get("commit"),
        "data_snapshot": f"{data['dataset']}@{data['snapshot']}"
        if data.get("dataset") and data.get("snapshot")
        else None,
        "env": {"python": environment.get("python"), "requirements_lock": f"sha256:{lock}" if lock else None},
        "outputs": {"model_version": None, **(record.get("outputs") or {})},
    }


def new_run_id(now: datetime | None = None) -> str:
    """Sorts by time (microseconds, UTC), unique thanks to a random suffix."""
    now = now or datetime.now(UTC)
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
    """Commit, dirty flag, a hash of the uncommitted diff and each changed file's blob id; nulls
    outside a git repository.

    Paths in `exclude` (the pipeline's own outputs) do not count as dirt.
    """
    from reprostack.runs import commits

    root = Path(root)
    head = git.rev_parse(root, "HEAD")
    if head is None:
        return {"commit": None, "dirty": None, "diff_sha256": None, "changed": [], "blobs": None}
    spec = [".", *[f":(exclude){path}" for path in exclude or []]]
    changed = git.changed_paths(root, *spec) or []
    diff = git.call(root, "diff", "HEAD", "--binary", "--", *spec, text=False).stdout if changed else b""
    return {
        "commit": head,
        "dirty": bool(changed),
        "diff_sha256": sha256_bytes(diff) if changed else None,
        "changed": changed,
        "blobs": commits.blob_ids(root, changed) if changed else {},
    }


def commit_exists(root: str | Path, commit: str) -> bool:
    return git.ok(root, "cat-file", "-e", f"{commit}^{{commit}}")


def write_record(runs_dir: str | Path, record: dict) -> Path:
    """Create runs/<run_id>.json (validated, seed fields derived); refuse to overwrite a record."""
    doc = jsonio.parse(
        {**record, **summary(record), "schema_version": RunRecord.SCHEMA_VERSION},
        RunRecord,
        error=RunRecordError,
        where=f"new run record {record.get('run_id')}",
    )
    final = Path(runs_dir) / f"{doc.run_id}.json"
    try:
        jsonio.atomic_write_bytes(final, jsonio.dumps(doc.to_json()).encode("utf-8"), exclusive=True)
    except FileExistsError:
        raise RunRecordError(f"run record {final} already exists; run records are never overwritten") from None
    return final


def load(runs_dir: str | Path, run_id: str) -> RunRecord:
    """Read and check one record (older schemas migrated); a hand-edited record is an error."""
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise RunRecordError(f"invalid run id {run_id!r}; list them with `reprostack runs list`")
    path = Path(runs_dir) / f"{run_id}.json"
    if not path.exists():
        raise RunRecordError(f"no run {run_id!r} in {runs_dir}/; list them with `reprostack runs list`")
    record = jsonio.load(path, RunRecord, error=RunRecordError, what="run record")
    if record.run_id != run_id:
        raise RunRecordError(f"run record {path} names run {record.run_id!r}; it was edited or renamed by hand")
    return record


def read_record(runs_dir: str | Path, run_id: str) -> dict:
    """`load` as plain JSON data, for callers that index into the record."""
    return load(runs_dir, run_id).to_json()


def list_records(runs_dir: str | Path) -> list[dict]:
    return [read_record(runs_dir, path.stem) for path in sorted(Path(runs_dir).glob("*.json"))]


def with_release(record: dict, registry_data: dict | None) -> dict:
    """Fill outputs.model_version from the registry: `<model>@<version>` of every release made
    from this run (registry.json names each version's run)."""
    released = [
        f"{model['name']}@{entry['version']}"
        for model in (registry_data or {}).get("models", [])
        for entry in model.get("versions", [])
        if entry.get("run_id") == record["run_id"]
    ]
    return {**record, "outputs": {**record["outputs"], "model_version": ", ".join(released) or None}}


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
