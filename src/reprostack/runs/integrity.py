"""Checks behind `reprostack verify` beyond plain sha256s: run records, metrics recomputed from
the model they claim, the vector table's files, and leftovers of killed processes.

Every problem ends with `fix: <one command>`; tests run that command and verify again.
"""

from __future__ import annotations

from pathlib import Path

from reprostack.core import config, git, leftovers
from reprostack.core.errors import ReprostackError


def _tracked(root: Path, path: Path) -> bool:
    return git.ok(root, "ls-files", "--error-unmatch", str(path.relative_to(root)))


def check_runs(root: Path, params: config.Params) -> dict:
    """Every run record parses; the one that produced the candidate records its sha256 and the
    metrics eval/ holds."""
    from reprostack.model import evaluation, training
    from reprostack.runs import records

    runs_dir = root / params.paths.runs
    paths = sorted(runs_dir.glob("*.json"))
    problems, readable = [], []
    for path in paths:
        try:
            readable.append(records.read_record(runs_dir, path.stem))
        except ReprostackError as exc:
            fix = (
                f"git checkout -- {path.relative_to(root)}" if _tracked(root, path) else f"rm {path.relative_to(root)}"
            )
            problems.append(f"{exc}; fix: `{fix}`")
    try:
        card = training.read_card(root / params.paths.candidate)
        metrics = evaluation.read_metrics(root / params.paths.eval)
    except ReprostackError:
        return {"checked": len(paths), "problems": problems}  # no pipeline run yet, or `models` reports it
    mine = [r for r in readable if r["outputs"].get("model", {}).get("sha256") == card.sha256]
    if not mine:
        problems.append(
            f"no run record in {params.paths.runs}/ produced the candidate (sha256 {card.sha256[:12]}); "
            "fix: `dvc repro`"
        )
    elif mine[-1]["outputs"].get("metrics") != metrics:
        problems.append(
            f"run {mine[-1]['run_id']} recorded metrics {mine[-1]['outputs'].get('metrics')}, "
            f"{params.paths.eval}/metrics.json holds {metrics}; fix: `dvc repro`"
        )
    return {"checked": len(paths), "problems": problems}


def _pinned(root: Path, params: config.Params):
    from reprostack import vectors

    pointer = vectors.read_vectors_pointer(root / params.paths.vectors_pointer)
    uri = pointer.uri if "://" in pointer.uri or Path(pointer.uri).is_absolute() else str(root / pointer.uri)
    return pointer.model_copy(update={"uri": uri})


def recompute_metrics(root: Path, params: config.Params, model_dir: Path, seed: int, test_size: float) -> dict:
    """The metrics of the model in model_dir on the held-out split of the table version its card
    names (sha256-checked model, content-checked vectors)."""
    from reprostack.core.errors import VectorStoreError
    from reprostack.model import evaluation, training
    from reprostack.vectors import lance_table
    from reprostack.vectors import pointer as vpointer

    card = training.read_card(model_dir)
    model = training.load_classifier(model_dir / card.file, card.sha256)
    pinned, vec = _pinned(root, params), card.vectors or {}
    # the card's content-named tag (cards of schema 2 pointers quote a local version number too:
    # the number where their tag is gone)
    card_pointer = pinned.model_copy(
        update={"table": vec.get("table") or pinned.table, "tag": vec.get("tag") or "", "version": vec.get("version")}
    )
    if not card_pointer.ref:
        card_pointer = pinned
    data = vpointer.open_version(card_pointer, params.embedding.storage_options)
    rows = vpointer.read_column(data, vec.get("column") or pinned.vector_column)
    if vec.get("sha256") and lance_table.content_sha256(rows.ids, rows.labels, rows.vectors) != vec["sha256"]:
        raise VectorStoreError(f"table version {data.version} no longer holds the vectors {model_dir} was trained on")
    test = [i for i, t in enumerate(training.split_mask(rows.ids, test_size, seed)) if t]
    return evaluation.metrics([rows.labels[i] for i in test], [str(p) for p in model.predict(rows.vectors[test])])


def check_metrics(root: Path, params: config.Params) -> dict:
    """eval/metrics.json and every released metrics.json equal what their model scores now."""
    from reprostack.model import evaluation
    from reprostack.runs import tablecheck
    from reprostack.store import restore

    targets = []
    if (root / params.paths.eval / evaluation.METRICS_FILE).exists():
        targets.append(
            (
                root / params.paths.candidate,
                root / params.paths.eval / evaluation.METRICS_FILE,
                params.seed,
                params.data.test_size,
                "fix: `dvc repro`",
            )
        )
    for card_path in sorted((root / "models").glob("*/*/model.json")):
        released = card_path.parent
        try:
            run_params = _json(released / "params.json")
        except ReprostackError:
            run_params = {}
        split = (
            run_params.get("seed", params.seed),
            run_params.get("data", {}).get("test_size", params.data.test_size),
        )
        targets.append(
            (released, released / "metrics.json", *split, restore.restore_advice(root, released.relative_to(root)))
        )
    if targets and (root / params.paths.vectors_pointer).exists() and tablecheck.check_table_files(root, params):
        return {"checked": 0, "problems": [], "note": "skipped: the vector table is damaged (see vectors)"}
    problems = []
    for model_dir, metrics_path, seed, test_size, fix in targets:
        try:
            claimed = {k: v for k, v in _json(metrics_path).items() if k != "schema_version"}
            actual = recompute_metrics(root, params, model_dir, seed, test_size)
        except (ReprostackError, OSError, ValueError, RuntimeError) as exc:  # lance/pyarrow read errors too
            why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            problems.append(f"{metrics_path.relative_to(root)}: cannot recompute ({why}); {fix}")
            continue
        wrong = {k: (claimed.get(k), v) for k, v in actual.items() if claimed.get(k) != v}
        if wrong:
            shown = ", ".join(f"{k} {a!r} claimed, {b!r} recomputed" for k, (a, b) in sorted(wrong.items()))
            problems.append(f"{metrics_path.relative_to(root)} does not match its model ({shown}); {fix}")
    return {"checked": len(targets), "problems": problems}


def _json(path: Path) -> dict:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReprostackError(f"{path} unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise ReprostackError(f"{path} must hold a JSON object")
    return data


def find_leftovers(root: Path, params: config.Params) -> list[Path]:
    """Temp files and directories of killed runs (see core/leftovers.py)."""
    from reprostack.vectors import lance_table

    found = leftovers.pipeline_temp_files(params.paths, root)
    snapshots = root / params.paths.snapshots
    for dataset_dir in sorted(p for p in snapshots.iterdir() if p.is_dir()) if snapshots.is_dir() else []:
        found += leftovers.dead_staging(dataset_dir)
    emb = params.embedding
    if "://" not in emb.uri:
        found += leftovers.lance_temp_files(lance_table.table_path(str(root / emb.uri), emb.table))
    return found


def check_leftovers(root: Path, params: config.Params) -> dict:
    found = find_leftovers(root, params)
    problems = [f"{p.relative_to(root)}: left by a killed process; fix: `reprostack verify --fix`" for p in found]
    return {"checked": 1, "problems": problems}


def fix_leftovers(root: Path, params: config.Params) -> list[str]:
    found = find_leftovers(root, params)
    for path in found:
        leftovers.remove(path)
    return [str(p.relative_to(root)) for p in found]
