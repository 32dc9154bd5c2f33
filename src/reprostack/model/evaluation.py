"""Pure evaluation logic: metrics from true and predicted labels."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

METRICS_FILE = "metrics.json"
PER_CLASS_FILE = "plots/per_class.json"
CONFUSION_FILE = "plots/sklearn/confusion_matrix.json"


def metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 6),
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro")), 6),
        "n_test": len(y_true),
    }


def per_class(pairs: Sequence[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """{label: {precision, recall, f1, support}} from (actual, predicted) pairs: pure Python, so a
    report computes it from any committed confusion_matrix.json without sklearn."""
    labels = sorted({label for pair in pairs for label in pair})
    out = {}
    for label in labels:
        tp = sum(1 for a, p in pairs if a == label and p == label)
        predicted = sum(1 for _, p in pairs if p == label)
        actual = sum(1 for a, _ in pairs if a == label)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {
            "precision": round(precision, 6),
            "recall": round(recall, 6),
            "f1": round(f1, 6),
            "support": actual,
        }
    return out


def per_class_rows(pairs: Sequence[tuple[str, str]]) -> list[dict]:
    """per_class as the rows of the per-class plot (eval/plots/per_class.json)."""
    return [{"class": label, **scores} for label, scores in per_class(pairs).items()]


def write_metrics(eval_dir: str | Path, scores: dict, y_true: Sequence[str], y_pred: Sequence[str]) -> None:
    """metrics.json and the confusion matrix's rows, byte for byte what dvclive's log_metric and
    log_sklearn_plot("confusion_matrix") wrote (JSON, indent 4, a newline), without importing
    dvclive, which imports DVC and opens the repository (1-1.5 s of every evaluate run here).
    dvc.yaml declares both files as the stage's metrics and plots."""
    from reprostack.core.jsonio import atomic_write_text

    rows = [{"actual": str(actual), "predicted": str(predicted)} for actual, predicted in zip(y_true, y_pred)]
    atomic_write_text(Path(eval_dir) / METRICS_FILE, json.dumps(scores, indent=4) + "\n")
    atomic_write_text(Path(eval_dir) / CONFUSION_FILE, json.dumps(rows, indent=4) + "\n")


def read_metrics(eval_dir: str | Path) -> dict:
    """The metrics the evaluate stage wrote into eval_dir."""
    from reprostack.core.errors import ReprostackError

    path = Path(eval_dir) / METRICS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReprostackError(f"{path} does not exist; run `dvc repro`") from None
    except json.JSONDecodeError:
        raise ReprostackError(f"{path} is not valid JSON; re-run the evaluate stage") from None
