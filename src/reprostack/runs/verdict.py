"""The comparison half of `runs reproduce`: the re-run's outputs against the run record, and the
verdict: bit-identical (same model sha256 and metrics), within tolerance (`reproduce:` in
conf/config.yaml: last-bit float noise, small metric deltas, nearly all held-out predictions
the same), or not reproduced, with by how much and what differs in the environment.
"""

from __future__ import annotations

from pathlib import Path

from reprostack.core.params import ReproduceParams
from reprostack.runs import environment


def _predictions(model_path: Path, sha256: str, rows, params: dict):
    from reprostack.model import training

    mask = training.split_mask(rows.ids, params["data"]["test_size"], params["seed"])
    test = [i for i, is_test in enumerate(mask) if is_test]
    model = training.load_classifier(model_path, sha256)
    return {rows.ids[i]: str(label) for i, label in zip(test, model.predict(rows.vectors[test]))}


def _find_model(root: Path, sha256: str) -> Path | None:
    """The run's own model file, wherever it still is (the candidate or a released version)."""
    from reprostack.model import training

    for path in sorted(root.glob("models/**/model.pkl")):
        if training.file_sha256(path) == sha256:
            return path
    return None


def compare(root: Path, record: dict, worktree: Path, old_rows, tol: ReproduceParams) -> dict:
    """Outputs of the re-run against the record: model, metrics, vectors, predictions, environment."""
    from reprostack import vectors
    from reprostack.model import evaluation, training

    params = record["params"]
    card = training.read_card(worktree / params["paths"]["candidate"])
    metrics = evaluation.read_metrics(worktree / params["paths"]["eval"])
    original = record["outputs"]
    old_sha = (original.get("model") or {}).get("sha256")
    result = {
        "model_sha256": {"original": old_sha, "reproduced": card.sha256},
        "metrics": {"original": original["metrics"], "reproduced": metrics},
        "metric_deltas": {
            k: round(metrics[k] - v, 6)
            for k, v in original["metrics"].items()
            if isinstance(v, (int, float)) and isinstance(metrics.get(k), (int, float))
        },
        "environment_differences": environment.differences(
            record["environment"],
            environment.capture(
                root, threads=params.get("threads"), backend=(params.get("embedding") or {}).get("backend", "torch")
            ),
        ),
        "vectors": None,
        "identical_predictions": None,
    }
    if card.sha256 == old_sha and metrics == original["metrics"]:
        return {**result, "verdict": "bit-identical", "notes": []}
    new_pointer = vectors.read_vectors_pointer(worktree / params["paths"]["vectors_pointer"])
    if "://" not in new_pointer.uri and not Path(new_pointer.uri).is_absolute():  # re-embedded in the worktree
        new_pointer = new_pointer.model_copy(update={"uri": str(worktree / new_pointer.uri)})
    remote = "://" in new_pointer.uri  # exact mode on a store: the run's own options reach it
    new_rows = vectors.read_rows(
        new_pointer, (params.get("embedding") or {}).get("storage_options") if remote else None
    )
    notes = []
    if old_rows is not None:
        import numpy as np

        position = {row_id: i for i, row_id in enumerate(new_rows.ids)}
        common = [i for i, row_id in enumerate(old_rows.ids) if row_id in position]
        diff = (
            float(
                np.max(np.abs(old_rows.vectors[common] - new_rows.vectors[[position[old_rows.ids[i]] for i in common]]))
            )
            if common
            else None
        )
        result["vectors"] = {
            "identical": new_pointer.vectors_sha256 == record["vectors"]["vectors_sha256"],
            "max_abs_difference": diff,
            "rows_compared": len(common),
        }
        if diff is not None and 0 < diff <= tol.float_noise:
            notes.append(
                f"the vectors differ only by last-bit float noise (largest difference {diff:.2e} <= "
                f"{tol.float_noise:g}), as the environment differences below explain"
            )
    else:
        result["vectors"] = {
            "identical": new_pointer.vectors_sha256 == (record.get("vectors") or {}).get("vectors_sha256"),
            "max_abs_difference": None,
            "rows_compared": 0,
        }
        notes.append("the run's own vectors are not readable, so by how much they differ is unknown")
    model_path = _find_model(root, old_sha) if old_sha else None
    if model_path is None:
        notes.append(
            "the run's model file is not in models/ (made elsewhere, or replaced since), so predictions "
            "were not compared; the verdict rests on the metrics"
        )
    else:
        old_pred = _predictions(model_path, old_sha, old_rows or new_rows, params)
        new_pred = _predictions(worktree / params["paths"]["candidate"] / card.file, card.sha256, new_rows, params)
        shared = [k for k in old_pred if k in new_pred]
        result["identical_predictions"] = (
            round(sum(old_pred[k] == new_pred[k] for k in shared) / len(shared), 6) if shared else None
        )
    # without the run's model file (made on another machine, never released) the metrics decide alone
    same_predictions = result["identical_predictions"]
    close = all(abs(d) <= tol.metric_abs for d in result["metric_deltas"].values()) and (
        same_predictions is None or same_predictions >= tol.identical_predictions
    )
    verdict_ = "within tolerance" if close else "not reproduced"
    machines = environment.bits_differences(result["environment_differences"])
    if machines:
        notes.insert(0, f"{verdict_}; the machines differ in: {'; '.join(machines)}")
    return {
        **result,
        "verdict": verdict_,
        "machines_differ_in": machines,
        "notes": notes,
        "tolerance": tol.model_dump(),
    }
