"""Pure evaluation logic: metrics from true and predicted labels."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

METRICS_FILE = "metrics.json"


def metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 6),
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro")), 6),
        "n_test": len(y_true),
    }


def read_metrics(eval_dir: str | Path) -> dict:
    """The metrics dvclive wrote into eval_dir."""
    from reprostack.core.errors import ReprostackError

    path = Path(eval_dir) / METRICS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReprostackError(f"{path} does not exist; run `dvc repro`") from None
    except json.JSONDecodeError:
        raise ReprostackError(f"{path} is not valid JSON; re-run the evaluate stage") from None
