"""Stage train: fit the classifier on vectors read at the pointer's table version."""

from __future__ import annotations

from pathlib import Path

from reprostack import vectors
from reprostack.core import config
from reprostack.data import refs, snapshot
from reprostack.model import training
from reprostack.stages._runner import run


def main() -> None:
    params = config.load_params()
    snap = refs.read_snapshot_pointer(params.paths.snapshot_pointer)
    snapshot.require_verified(snap.path)
    pointer = vectors.read_vectors_pointer(params.paths.vectors_pointer)
    rows = vectors.read_rows(pointer, params.embedding.storage_options)
    mask = training.split_mask(rows.ids, params.data.test_size, params.seed)
    train_idx = [i for i, test in enumerate(mask) if not test]
    model = training.train(params.model, rows.vectors[train_idx], [rows.labels[i] for i in train_idx])
    out_dir = Path(params.paths.candidate)
    sha = training.save_model(model, out_dir / training.MODEL_FILE)
    training.write_card(
        out_dir,
        {
            "file": training.MODEL_FILE,
            "sha256": sha,
            "classifier": params.model.name,
            "target": params.model.target,
            "options": params.model.options,
            "classes": sorted(set(rows.labels)),
            "n_train": len(train_idx),
            "snapshot": snap.version,
            "vectors": {
                "table": pointer.table,
                "tag": pointer.tag,  # the content-named tag, not the local version number (a DVC output)
                "column": pointer.vector_column,
                "sha256": pointer.vectors_sha256,
            },
            "embedding_model": pointer.model,
        },
    )
    print(f"trained {params.model.name} on {len(train_idx)} rows; model sha256 {sha[:12]}")


if __name__ == "__main__":
    run(main)
