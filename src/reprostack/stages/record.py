"""Stage record: write runs/<run_id>.json for a pipeline run that executed any stage.

DVC runs it when runs/stages/pending-record.txt lists a stage (see stages/_runner.py); it moves
the stages' local stamps (timing, engine) into the record and empties the list, so dvc.lock
keeps the same hash for it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from reprostack import vectors
from reprostack.core import config, faults, jsonio, workspace
from reprostack.core.errors import ConfigError, ReprostackError
from reprostack.data import refs
from reprostack.model import evaluation, training
from reprostack.runs import environment, records
from reprostack.stages._runner import PENDING_RECORD, Stamp, run, stamp_dir, write_marker


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


def embed_engine(vectors_sha256: str, latest: dict | None) -> dict | None:
    """The engine of the embed run that made the current vectors: its stamp's details, or, where
    embed did not run here (a store supplied the table), what the latest record says of them."""
    path = stamp_dir() / "embed.json"
    if path.is_file():
        return (jsonio.load(path, Stamp, what="stage stamp").details or {}).get("engine")
    if latest and (latest.get("vectors") or {}).get("vectors_sha256") == vectors_sha256:
        return latest.get("engine")
    return None


def embed_compute(ran: list[dict]) -> dict | None:
    """torch's build and threads as the embed stage of this very run saw them (its stamp), so
    that this process need not import torch to ask again; None (embed did not run, or encoded
    nothing, or on Ray): the record stage asks torch itself."""
    path = stamp_dir() / "embed.json"
    if not path.is_file() or "embed" not in {stamp["stage"] for stamp in ran}:
        return None
    return (jsonio.load(path, Stamp, what="stage stamp").details or {}).get("compute")


def main() -> None:
    params = config.load_params()
    snap = refs.read_snapshot_pointer(params.paths.snapshot_pointer)
    card = training.read_card(params.paths.candidate)
    metrics = evaluation.read_metrics(params.paths.eval)
    try:
        drift = config.drift()
    except ConfigError:
        drift = None  # conf/ unreadable: the compose stage would have failed first
    overrides = None if drift is None else {key: new for key, (_, new) in drift.items()}
    ran = stages_ran(params.paths.runs)
    latest = latest_record(params.paths.runs)
    done = None if ran else latest
    pointer = vectors.read_vectors_pointer(params.paths.vectors_pointer)
    version = vectors.resolve_version(pointer, params.embedding.storage_options)
    if (
        done
        and done["outputs"].get("model", {}).get("sha256") == card.sha256
        and done.get("vectors", {}).get("vectors_sha256") == pointer.vectors_sha256
    ):
        # No stage ran since that record and the outputs are the same: a run killed after writing
        # its record (before DVC saved dvc.lock) is re-running only this stage. Finish it instead
        # of writing a duplicate record with no stages.
        tag = tag_vectors(params, done["run_id"], version)
        print(f"run record {done['run_id']} already covers this run; vector table tagged {tag}")
        write_marker(PENDING_RECORD, [])
        return
    if drift:
        shown = ", ".join(f"{key}={new!r} (conf/: {old!r})" for key, (old, new) in drift.items())
        print(
            f"params.yaml differs from conf/ at {shown}: this run can be compared and reproduced, not "
            "released; put lasting changes into conf/ (a plain `dvc repro` puts conf/'s values back)",
            file=sys.stderr,
        )
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
        "environment": environment.capture(
            threads=params.threads, compute_info=embed_compute(ran), backend=params.embedding.backend
        ),
        # the local version number too (which version `vectors versions` lists for this run)
        "vectors": {**pointer.fields(), "version": version},
        "engine": embed_engine(pointer.vectors_sha256, latest),
        "outputs": {
            "model": {"path": str(Path(params.paths.candidate) / card.file), "sha256": card.sha256},
            "metrics": metrics,
        },
    }
    path = records.write_record(params.paths.runs, record)
    workspace.keep_in_project(path)  # `dvc exp run --temp` and queued runs: the record outlives the workspace
    faults.point("record.after-write")
    tag = tag_vectors(params, record["run_id"], version)
    write_marker(PENDING_RECORD, [])  # last: a run killed before this re-runs the record stage
    print(f"run record {path}; vector table version {record['vectors']['version']} tagged {tag}")


def tag_vectors(params: config.Params, run_id: str, version: int) -> str:
    """Name the table version this run read after the run, so `vectors versions` shows which
    runs used which version (and cleanup keeps it)."""
    from reprostack.vectors import lance_table, versions

    emb = params.embedding
    data = lance_table.dataset(emb.uri, emb.table, storage_options=emb.storage_options)
    return versions.tag(data, f"run-{run_id}", version)  # idempotent


if __name__ == "__main__":
    run(main, stamp=False)  # record is not a DVC output of itself
