"""Stage record: write runs/<run_id>.json for a pipeline run that changed any output."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from reprostack import config, runs, snapshot, training, vectors
from reprostack.errors import ConfigError
from reprostack.stages._runner import run


def main() -> None:
    params = config.load_params()
    snap = snapshot.read_pointer(params.paths.snapshot_pointer)
    card = training.read_card(params.paths.candidate)
    metrics = json.loads((Path(params.paths.eval) / "metrics.json").read_text(encoding="utf-8"))
    try:
        overrides = {k: v[1] for k, v in config.diff(config.compose(config.CONF_DIR), params.raw).items()}
    except ConfigError:
        overrides = None  # conf/ unreadable: the compose stage would have failed first
    record = {
        "run_id": runs.new_run_id(),
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "code": runs.git_state(),
        "data": {"dataset": snap.dataset, "snapshot": snap.version, "digest": snap.digest},
        "params": params.raw,
        "params_overrides": overrides,
        "environment": runs.environment(),
        "vectors": asdict(vectors.read_pointer(params.paths.vectors_pointer)),
        "outputs": {
            "model": {"path": str(Path(params.paths.candidate) / card["file"]), "sha256": card["sha256"]},
            "metrics": metrics,
        },
    }
    path = runs.write_record(params.paths.runs, record)
    print(f"run record {path}")


if __name__ == "__main__":
    run(main)
