"""`runs reproduce`: re-run a recorded run from its commit and prove the outputs are identical.

The run's commit is checked out into a temporary git worktree, the run's exact params are
restored there, and the whole pipeline is forced to run with the current environment. The
user's working tree, DVC cache and vector table are never written to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reprostack import config, git
from reprostack.errors import RunRecordError
from reprostack.model import evaluation, training
from reprostack.runs import records

# What a run's outputs depend on, by where it sits in a run record; compared when outputs differ.
INPUTS = {
    "environment lock": ("environment", "requirements_lock_sha256"),
    "python": ("environment", "python"),
    "packages": ("environment", "packages"),
    "platform": ("environment", "platform"),
    "embedding model fingerprint": ("vectors", "model_fingerprint"),
    "data digest": ("data", "digest"),
    "vectors content": ("vectors", "vectors_sha256"),
    "params": ("params",),
}


def _get(record: dict, path: tuple[str, ...]):
    value = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def check_reproducible(root: Path, record: dict, allow_dirty: bool) -> str:
    commit = record["code"].get("commit")
    if not commit:
        raise RunRecordError(f"run {record['run_id']} was not made in a git repository; there is no commit to re-run")
    if not records.commit_exists(root, commit):
        raise RunRecordError(
            f"commit {commit[:12]} of run {record['run_id']} is gone from this repository (rebased, or not "
            "fetched); fetch it and retry"
        )
    if record["code"].get("dirty") and not allow_dirty:
        changed = ", ".join(record["code"].get("changed") or []) or "unknown files"
        raise RunRecordError(
            f"run {record['run_id']} was made with uncommitted changes ({changed}); they are not in git, so it "
            "cannot be reproduced exactly; pass --allow-dirty to re-run its commit anyway"
        )
    return commit


def _pipeline_env(worktree: Path) -> dict:
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVC_EXP")}
    env.update({
        # the worktree's own code, not the package installed from the user's checkout
        "PYTHONPATH": os.pathsep.join(filter(None, [str(worktree / "src"), os.environ.get("PYTHONPATH")])),
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        config.KEEP_PARAMS_ENV: "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    })
    return env


def _read_outputs(worktree: Path, params: dict) -> dict:
    paths = params["paths"]
    card = training.read_card(worktree / paths["candidate"])
    new_records = sorted((worktree / paths["runs"]).glob("*.json"))
    record = records.read_record(worktree / paths["runs"], new_records[-1].stem) if new_records else {}
    return {"model_sha256": card.sha256, "metrics": evaluation.read_metrics(worktree / paths["eval"]),
            "record": record}


def original_vectors_status(root: Path, record: dict) -> str:
    """Is the run's own table version still in the user's table with the recorded content?"""
    from reprostack import jsonio, vectors
    from reprostack.errors import ReprostackError, VectorStoreError

    pointer = {"tag": "", **(record.get("vectors") or {})}  # records made before tags existed
    try:
        fields = {k: pointer[k] for k in vectors.Pointer.model_fields if k != "schema_version"}
        p = jsonio.parse({**fields, "schema_version": vectors.Pointer.SCHEMA_VERSION}, vectors.Pointer,
                         error=VectorStoreError, where="the run record's vectors")
        if "://" not in p.uri and not Path(p.uri).is_absolute():
            p = p.model_copy(update={"uri": str(root / p.uri)})
        vectors.read_rows(p, (record.get("params", {}).get("embedding") or {}).get("storage_options"))
        return f"intact (table {p.table} version {p.version})"
    except KeyError:
        return "not recorded"
    except ReprostackError as exc:
        return f"unavailable: {exc}"


def reproduce(root: str | Path, runs_dir: str, run_id: str, *, allow_dirty: bool = False, keep: bool = False) -> dict:
    root = Path(root).resolve()
    record = records.read_record(root / runs_dir, run_id)
    commit = check_reproducible(root, record, allow_dirty)
    scratch = Path(tempfile.mkdtemp(prefix="reprostack-reproduce-"))
    worktree = scratch / "worktree"
    started = time.perf_counter()
    try:
        added = git.call(root, "worktree", "add", "--quiet", "--detach", str(worktree), commit)
        if added.returncode != 0:
            raise RunRecordError(f"cannot check out commit {commit[:12]} into a worktree: {added.stderr.strip()}")
        params_file = worktree / config.PARAMS_FILE
        params_file.write_text(config.dump_params(record["params"]), encoding="utf-8")
        result = subprocess.run([str(Path(sys.executable).parent / "dvc"), "repro", "--force"], cwd=worktree,
                                env=_pipeline_env(worktree), capture_output=True, text=True)
        if result.returncode != 0:
            tail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise RunRecordError(f"re-running commit {commit[:12]} failed: {tail} (use --keep to inspect {worktree})")
        outputs = _read_outputs(worktree, record["params"])
    finally:
        if not keep:
            git.call(root, "worktree", "remove", "--force", str(worktree))
            shutil.rmtree(scratch, ignore_errors=True)
            git.call(root, "worktree", "prune")
    original = record["outputs"]
    same_model = outputs["model_sha256"] == original["model"]["sha256"]
    same_metrics = outputs["metrics"] == original["metrics"]
    differing = [name for name, path in INPUTS.items()
                 if _get(outputs["record"], path) != _get(record, path)] if outputs["record"] else []
    return {
        "run_id": run_id,
        "commit": commit,
        "reproduced": same_model and same_metrics,
        "model_sha256": {"original": original["model"]["sha256"], "reproduced": outputs["model_sha256"]},
        "metrics": {"original": original["metrics"], "reproduced": outputs["metrics"]},
        "inputs_differing": differing,
        "original_vectors": original_vectors_status(root, record),
        "seconds": round(time.perf_counter() - started, 2),
        "worktree": str(worktree) if keep else None,
    }
