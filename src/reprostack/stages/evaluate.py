"""Stage evaluate: metrics and a confusion matrix on the held-out split (the files dvclive would
write, without its import: see evaluation.write_metrics)."""

from __future__ import annotations

from pathlib import Path

from reprostack import vectors
from reprostack.core import config, jsonio
from reprostack.model import evaluation, training
from reprostack.stages._runner import run


def main() -> None:
    params = config.load_params()
    card = training.read_card(params.paths.candidate)
    model = training.load_classifier(Path(params.paths.candidate) / card.file, card.sha256)
    rows = vectors.read_rows(
        vectors.read_vectors_pointer(params.paths.vectors_pointer), params.embedding.storage_options
    )
    mask = training.split_mask(rows.ids, params.data.test_size, params.seed)
    test_idx = [i for i, test in enumerate(mask) if test]
    y_true = [rows.labels[i] for i in test_idx]
    y_pred = [str(label) for label in model.predict(rows.vectors[test_idx])]
    scores = evaluation.metrics(y_true, y_pred)

    evaluation.write_metrics(params.paths.eval, scores, y_true, y_pred)
    # per-class precision and recall: a bar plot per metric in `dvc plots show` (dvc.yaml)
    jsonio.write_json(
        Path(params.paths.eval) / evaluation.PER_CLASS_FILE,
        {"classes": evaluation.per_class_rows(list(zip(y_true, y_pred)))},
        schema_version=1,
    )
    print(", ".join(f"{k}={v}" for k, v in scores.items()))


if __name__ == "__main__":
    run(main)
