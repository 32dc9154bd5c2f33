"""Stage embed: encode the snapshot's texts into the versioned LanceDB table."""

from __future__ import annotations

from reprostack import config, dataset, embedding, snapshot, vectors
from reprostack.stages._runner import run


def main() -> None:
    params = config.load_params()
    emb, data = params.embedding, params.data
    snap = snapshot.read_pointer(params.paths.snapshot_pointer)
    snapshot.require_verified(snap.path)
    table = dataset.read_text_table(snap.path / data.file, data.id_column, data.text_column, data.label_column)
    resolved = embedding.resolve(emb.model)
    embedding.configure_determinism(params.seed, params.threads)
    model = embedding.load_model(resolved, emb.device)
    # Every text, every time: see vectors.write_table for why this keeps runs bit-identical.
    matrix = embedding.embed(table.texts, model, emb.batch_size, emb.normalize, progress=True)
    version, content = vectors.write_table(emb.uri, emb.table, table.ids, table.texts, table.labels, matrix, emb.model)
    dimension = int(matrix.shape[1])
    pointer = vectors.Pointer(
        uri=emb.uri,
        table=emb.table,
        version=version,
        rows=len(table),
        model=emb.model,
        model_fingerprint=embedding.fingerprint(resolved.path),
        dimension=dimension,
        vector_column=vectors.VECTOR_COLUMN,
        metric=vectors.METRIC,
        vectors_sha256=content,
        snapshot=snap.version,
    )
    vectors.write_pointer(params.paths.vectors_pointer, pointer)
    print(f"embedded {len(table)} texts into {emb.uri}/{emb.table} version {version}")


if __name__ == "__main__":
    run(main)
