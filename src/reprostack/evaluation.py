"""Pure evaluation logic: metrics from true and predicted labels."""

from __future__ import annotations

from typing import Sequence


def metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 6),
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro")), 6),
        "n_test": len(y_true),
    }
