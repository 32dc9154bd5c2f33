"""Stage record: write runs/<run_id>.json for a pipeline run that changed any output."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from reprostack import vectors
from reprostack.core import config, faults, jsonio, workspace
from reprostack.core.errors import ConfigError, ReprostackError
from reprostack.data import refs
from reprostack.model import evaluation, training
from reprostack.runs import environment, records
from reprostack.stages._runner import Stamp, run, stamp_dir


def latest_record(runs_dir: str) -> dict | None:
    for path in sorted(Path(runs_dir).glob("*.json"), reverse=True):
        try:
            return records.read_record(runs_dir, path.stem)
        except ReprostackError:
            continue  # a hand-broken record must not stop new ones from being written
    return None


def stages_ran(runs_dir: str) -> list[dict]:
    """Stamps newer than the latest record: the stages this pipeline run executed."""
    latest = (latest_record(runs_dir) or {}).get("created_utc", "")
    stamps = []
    for path in sorted(stamp_dir().glob("*.json")):
        stamp = jsonio.load(path, Stamp, what="stage stamp")
        if stamp.finished_utc > latest:
            stamps.append(stamp.model_dump(include={"stage", "started_utc", "finished_utc", "seconds"}))
    return sorted(stamps, key=lambda s: s["started_utc"])


def embed_engine() -> dict | None:
    """The engine of the embed run that made the current vectors (its stamp's details)."""
    path = stamp_dir() / "embed.json"
    if not path.is_file():
        return None
    return (jsonio.load(path, Stamp, what="stage stamp").details or {}).get("engine")


def main() -> None:
    params = config.load_params()
    snap = refs.read_snapshot_pointer(params.paths.snapshot_pointer)
    card = training.read_card(params.paths.candidate)
    metrics = evaluation.read_metrics(params.paths.eval)
    try:
        overrides = {key: value for key, (_, value) in config.drift().items()}
    except ConfigError:
        overrides = None  # conf/ unreadable: the compose stage would have failed first
    ran = stages_ran(params.paths.runs)
    done = None if ran else latest_record(params.paths.runs)
    if (
        done
        and done["outputs"].get("model", {}).get("sha256") == card.sha256
        and done.get("vectors", {}).get("version") == vectors.read_vectors_pointer(params.paths.vectors_pointer).version
    ):
        # No stage ran since that record and the outputs are the same: a run killed after writing
        # its record (before DVC saved dvc.lock) is re-running only this stage. Finish it instead
        # of writing a duplicate record with no stages.
        print(f"run record {done['run_id']} already covers this run; vector table tagged {tag_vectors(params, done)}")
        return
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    record = {
        "run_id": records.new_run_id(),
        "created_utc": created,
        "started_utc": ran[0]["started_utc"] if ran else created,
        "finished_utc": created,
        "stages": ran,
        "code": records.git_state(exclude=records.pipeline_outputs(runs_dir=params.paths.runs)),
        "data": {"dataset": snap.dataset, "snapshot": snap.version, "digest": snap.digest, "path": str(snap.path)},
        "params": params.raw,
        "params_overrides": overrides,
        "environment": environment.capture(threads=params.threads),
        "vectors": vectors.read_vectors_pointer(params.paths.vectors_pointer).fields(),
        "engine": embed_engine(),
        "outputs": {
            "model": {"path": str(Path(params.paths.candidate) / card.file), "sha256": card.sha256},
            "metrics": metrics,
        },
    }
    path = records.write_record(params.paths.runs, record)
    workspace.keep_in_project(path)  # `dvc exp run --temp` and queued runs: the record outlives the workspace
    faults.point("record.after-write")
    tag = tag_vectors(params, record)
    print(f"run record {path}; vector table version {record['vectors']['version']} tagged {tag}")


def tag_vectors(params: config.Params, record: dict) -> str:
    """Name the table version this run read after the run, so `vectors versions` shows which
    runs used which version (and cleanup keeps it)."""
    from reprostack.vectors import lance_table, versions

    emb = params.embedding
    data = lance_table.dataset(emb.uri, emb.table, storage_options=emb.storage_options)
    return versions.tag(data, f"run-{record['run_id']}", record["vectors"]["version"])  # idempotent


if __name__ == "__main__":
    run(main, stamp=False)  # record is not a DVC output of itself
