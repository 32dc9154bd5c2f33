"""`runs reproduce`: re-run a recorded run from its commit and compare the outputs.

Exact (the default, where the run's table version is readable through its pointer's uri): the
run's commit is checked out into a temporary git worktree with the run's params, the pointer is
set to the run's own table version, and every stage downstream of embedding re-runs (snapshot,
train, evaluate): identical model sha256 and metrics are "bit-identical". Recompute
(`re_embed`): the embedding re-runs too, into a scratch table. Where outputs differ, the report
says by how much (largest vector difference, share of identical held-out predictions, metric
deltas) and what differs in the environment (CPU, vector instructions, packages), and the
verdict is bit-identical, within tolerance (`reproduce:` in conf/config.yaml), or not reproduced.

The user's working tree, DVC cache and vector table are never written to, except that a run's
table version missing here is pulled from the store when one is configured (files are only added).
The comparison and the verdict are in runs/verdict.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from reprostack.core import config, git, jsonio
from reprostack.core.errors import ReprostackError, RunRecordError
from reprostack.core.params import ReproduceParams
from reprostack.runs import commits, records, verdict

# Stages that produce the vectors: exact mode skips them; record is never re-run (it would write a
# record and tag a table).
EMBED_STAGES = ("embed",)
SKIPPED = ("record", "compose")


def tolerance(params_raw: dict) -> ReproduceParams:
    try:
        return ReproduceParams.model_validate(params_raw.get("reproduce") or {})
    except ValidationError as exc:
        raise RunRecordError(f"params.yaml: reproduce.{jsonio.explain(exc)}; fix it in conf/config.yaml") from None


def run_pointer(root: Path, record: dict):
    """The run's vector pointer, its uri resolved against the project (the table is read there)."""
    from reprostack import vectors
    from reprostack.core.errors import VectorStoreError

    fields = [key for key in vectors.VectorsPointer.model_fields if key != "schema_version"]
    required = [key for key in fields if vectors.VectorsPointer.model_fields[key].is_required()]
    recorded = {"tag": "", **(record.get("vectors") or {})}  # records made before tags existed
    if not all(key in recorded for key in required):
        return None
    pointer = jsonio.parse(
        {
            **{key: recorded[key] for key in fields if key in recorded},
            "schema_version": vectors.VectorsPointer.SCHEMA_VERSION,
        },
        vectors.VectorsPointer,
        error=VectorStoreError,
        where="the run record's vectors",
    )
    if "://" not in pointer.uri and not Path(pointer.uri).is_absolute():
        pointer = pointer.model_copy(update={"uri": str(root / pointer.uri)})
    return pointer


def original_rows(root: Path, record: dict):
    """(rows, None) when the run's table version is readable with its recorded content, else
    (None, why not)."""
    from reprostack import vectors

    pointer = run_pointer(root, record)
    if pointer is None:
        return None, "the run record names no table version"
    try:
        storage = (record["params"].get("embedding") or {}).get("storage_options")
        return vectors.read_rows(pointer, storage), None
    except ReprostackError as exc:
        return None, str(exc)


def _pull_table(root: Path, record: dict, pointer, progress: Callable[[str], None]) -> str | None:
    """The run's table version is not here: pull the table's files from the store, when one is
    configured (or this machine has the project's default store), so exact mode can go on. The
    store's description once pulled, else None. Lance files are immutable, so a pull only adds."""
    from reprostack.store import remote, tables

    if pointer is None or "://" in pointer.uri:
        return None
    adopted = remote.adopt_default(root)
    if adopted is not None:
        progress(f"store: using this machine's store for the project, {adopted} (written to .dvc/config.local)")
    store = remote.find(root)
    if store is None:
        return None
    progress(f"pull: table {pointer.table} version {pointer.ref} from {store.describe()}")
    remote.check(store)  # a store that is down or refuses us: its own one-line error and fix
    tables.pull(root, store, record["params"]["embedding"])
    return store.describe()


def _pipeline_env(worktree: Path) -> dict:
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVC_EXP")}
    env.update(
        {
            # the worktree's own code, not the package installed from the user's checkout
            "PYTHONPATH": os.pathsep.join(filter(None, [str(worktree / "src"), os.environ.get("PYTHONPATH")])),
            "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
            config.KEEP_PARAMS_ENV: "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
    )
    return env


def _run_stages(worktree: Path, stages: list[str], progress: Callable[[str], None]) -> None:
    """`dvc repro --single-item --force <stages>`, announcing each stage as DVC starts it."""
    cmd = [str(Path(sys.executable).parent / "dvc"), "repro", "--single-item", "--force", *stages]
    proc = subprocess.Popen(
        cmd, cwd=worktree, env=_pipeline_env(worktree), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith("Running stage"):
            progress(f"stage {line.split(chr(39))[1]}")
    if proc.wait() != 0:
        # the stage's own one-line error says why; DVC's last line only that it failed
        said = [ln for ln in lines if ln.startswith("error [")]
        tail = said[-1] if said else next((ln for ln in reversed(lines) if ln.strip()), "(no output)")
        raise RunRecordError(f"re-running the stages failed: {tail}")


def _stages_in(worktree: Path) -> list[str]:
    import yaml

    return list((yaml.safe_load((worktree / "dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages", {}))


SCRATCH_TABLE = "data/vectors-reproduced"  # relative to the worktree; compare() reads it there


def _prepare(worktree: Path, record: dict, pointer, re_embed: bool) -> list[str]:
    """Write the run's params (and, exact, its vector pointer) into the worktree; the stages to run."""
    from reprostack import vectors

    params = record["params"]
    if re_embed:  # a scratch table: never the user's or the shared store's. Inside the fresh
        # worktree (git never has a table), as a relative path: a table outside the project is refused
        params = {
            **params,
            "embedding": {**params["embedding"], "uri": SCRATCH_TABLE, "storage_options": {}},
        }
    (worktree / config.PARAMS_FILE).write_text(config.dump_params(params), encoding="utf-8")
    stages = [s for s in _stages_in(worktree) if s not in SKIPPED]
    if not re_embed:
        path = worktree / params["paths"]["vectors_pointer"]
        if pointer.version is None:
            vectors.write_vectors_pointer(path, pointer)
        else:  # schema 2 (tag and number), which the code of commits before schema 3 reads too
            jsonio.atomic_write_text(path, jsonio.dumps({**pointer.fields(), "schema_version": 2}))
        stages = [s for s in stages if s not in EMBED_STAGES]
    return stages


def reproduce(
    root: str | Path,
    runs_dir: str,
    run_id: str,
    *,
    re_embed: bool = False,
    allow_dirty: bool = False,
    keep: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> dict:
    root = Path(root).resolve()
    record = records.read_record(root / runs_dir, run_id)
    tol = tolerance(config.read_params_file(root / config.PARAMS_FILE))
    exclude = records.pipeline_outputs(root, runs_dir)  # the pipeline's own files are no part of the code
    commit, how = commits.commit_to_rerun(root, runs_dir, record, allow_dirty, exclude)
    if commit != record["code"].get("commit"):
        progress(f"commit: {commit[:12]} holds the changes the run was made with ({how})")
    pointer = run_pointer(root, record)
    if pointer is not None:
        progress(f"vectors: reading table {pointer.table} version {pointer.ref} from {pointer.uri}")
    old_rows, why = original_rows(root, record)
    if old_rows is None and not re_embed:
        why = why.split("; ")[0]  # what is wrong, not the reader's own advice: re-embedding is the fix here
        try:
            store = _pull_table(root, record, pointer, progress)
        except ReprostackError as exc:  # a store that is down: say so; re-embedding needs no store
            store, why = None, f"{why}; the store could not help: {exc}"
        if store is not None:
            old_rows, _ = original_rows(root, record)
            why = f"{why}, and {store} does not have it either"
    if old_rows is None and not re_embed:
        raise RunRecordError(
            f"the vector table version of run {run_id} cannot be read ({why}); re-embed instead "
            f"with `reprostack runs reproduce {run_id} --re-embed`"
        )
    scratch = Path(tempfile.mkdtemp(prefix="reprostack-reproduce-"))
    worktree = scratch / "worktree"
    started = time.perf_counter()
    try:
        progress(f"worktree: checking out {commit[:12]}")
        added = git.call(root, "worktree", "add", "--quiet", "--detach", str(worktree), commit)
        if added.returncode != 0:
            raise RunRecordError(f"cannot check out commit {commit[:12]} into a worktree: {added.stderr.strip()}")
        stages = _prepare(worktree, record, pointer, re_embed)
        try:
            _run_stages(worktree, stages, progress)
        except RunRecordError as exc:
            raise RunRecordError(f"{exc} (use --keep to inspect {worktree})") from None
        progress("comparing outputs")
        result = verdict.compare(root, record, worktree, old_rows, tol)
    finally:
        if not keep:
            git.call(root, "worktree", "remove", "--force", str(worktree))
            shutil.rmtree(scratch, ignore_errors=True)
            git.call(root, "worktree", "prune")
    return {
        "run_id": run_id,
        "commit": commit,
        "commit_found": how,  # "clean": the run's own commit; else how the commit was found
        "mode": "recompute" if re_embed else "exact",
        **result,
        "reproduced": result["verdict"] != "not reproduced",
        "original_vectors": "readable" if old_rows is not None else f"not readable: {why}",
        "seconds": round(time.perf_counter() - started, 2),
        "worktree": str(worktree) if keep else None,
    }
