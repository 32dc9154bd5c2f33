"""Stage embed: bring the versioned LanceDB table in line with the snapshot, incrementally."""

from __future__ import annotations

import contextlib

from reprostack import vectors
from reprostack.core import config, faults
from reprostack.data import hook, refs, snapshot
from reprostack.model import backends, embedding
from reprostack.runs import environment
from reprostack.stages._runner import run
from reprostack.vectors import guard, lance_table, pointer, update


def main() -> dict:
    params = config.load_params()
    # One writer: an orphan of a killed `dvc repro` still writing the table makes this wait or
    # refuse, naming its pid (vectors/guard.py); ids stay unique whatever happens.
    with guard.table_writer(params.embedding.uri, params.embedding.table):
        faults.point("stage.embed.writing")
        return _embed(params)


def _embed(params) -> dict:
    emb, data = params.embedding, params.data
    snap = refs.read_snapshot_pointer(params.paths.snapshot_pointer)
    snapshot.require_verified(snap.path)
    rows = hook.read_dataset(snap.path / data.file, data)  # after the project's data.preprocess
    backends.require(emb.backend, "the embed stage", emb.model)
    resolved = embedding.resolve(emb.model, revision=emb.revision)
    fingerprint = embedding.fingerprint(resolved.path)
    settings = {
        "model": emb.model,
        "fingerprint": fingerprint,
        "normalize": emb.normalize,
        "device": emb.device,
        "encoding": emb.encoding,
    }
    if emb.backend != backends.LEGACY_BACKEND:  # torch tables keep the settings hash they had
        settings["backend"] = emb.backend
    settings = lance_table.params_sha256(settings)
    new_column = _column_missing(emb, fingerprint)
    with contextlib.ExitStack() as stack:
        if emb.engine == "ray":  # joins the cluster only if there is something to encode
            from reprostack.cluster import encode as on_ray

            encode = stack.enter_context(on_ray.ray_encoder(resolved, emb, params.seed, params.threads))
        else:
            encode = embedding.lazy_encoder(
                resolved,
                emb.device,
                emb.batch_size,
                emb.normalize,
                params.seed,
                params.threads,
                progress=True,
                scheme=emb.encoding,
                backend=emb.backend,
            )
        result = update.update(
            emb.uri,
            emb.table,
            rows.ids,
            rows.texts,
            rows.labels,
            emb.model,
            fingerprint,
            emb.normalize,
            encode,
            settings,
            emb.storage_options,
            encoding=emb.encoding,
            backend=emb.backend,
        )
    index_built = False
    if result.new_version and len(rows) >= emb.index_min_rows:
        from reprostack.vectors import search

        table = lance_table.connect(emb.uri, emb.storage_options).open_table(emb.table)
        index_built = search.ensure_index(table, result.column, emb.index_type, emb.index_min_rows)
    data_now = lance_table.dataset(emb.uri, emb.table, storage_options=emb.storage_options)
    read = pointer.read_column(data_now, result.column)
    content = lance_table.content_sha256(read.ids, read.labels, read.vectors)
    # The tag names the content, so a version with the same content (a no-op run, a restore)
    # keeps the tag it had; tagged versions survive `vectors optimize`.
    tag = f"snap-{snap.version}-{content[:12]}"
    existing = data_now.tags.list().get(tag)
    version = existing["version"] if existing else data_now.version
    if not existing:
        data_now.tags.create(tag, version)
    vectors.write_vectors_pointer(
        params.paths.vectors_pointer,
        vectors.VectorsPointer(
            uri=emb.uri,
            table=emb.table,
            tag=tag,  # not the version number: it differs between a grown table and a fresh one
            rows=len(read.ids),
            model=emb.model,
            model_fingerprint=fingerprint,
            dimension=result.dimension,
            vector_column=result.column,
            metric=lance_table.METRIC,
            vectors_sha256=content,
            snapshot=snap.version,
        ),
    )
    if result.deduplicated:
        print(f"the table held {result.deduplicated} id(s) in several rows: each is now one row, embedded anew")
    if new_column:  # said first, so a once-only full re-embed is never a surprise
        print(
            f"no vector column for {emb.model} with encoding {emb.encoding} on {emb.backend} yet: "
            f"embedded every row into new column {result.column}"
        )
    print(
        f"embedded {result.embedded} ({encode.truncated} truncated at the model's token limit, "
        f"{encode.passes} forward passes, encoding {emb.encoding}, backend {emb.backend}), "
        f"relabelled {result.relabelled}, "
        f"deleted {result.deleted} of {len(rows)} "
        f"rows; {emb.uri}/{emb.table} version {version} ({'new' if result.new_version else 'unchanged'}), "
        f"tag {tag}" + ("; ANN index built" if index_built else "") + _on_cluster(encode)
    )
    # the backend rides in the engine's record, which the record stage copies into the run record
    engine, backend = engine_record(emb.engine, encode), backend_record(emb, resolved, fingerprint, encode)
    # torch's build and threads, asked here where torch is loaded (when something was encoded
    # locally): the record stage takes them from this stamp instead of importing torch again.
    return {
        "engine": {**engine, "backend": backend} if backend else engine,
        "compute": environment.compute(params.threads, loaded_only=True, backend=emb.backend),
    }


def engine_record(engine: str, encode) -> dict:
    """For the run record: the engine, and the Ray cluster it embedded on (None when nothing was
    encoded, so no cluster was joined)."""
    cluster = getattr(encode, "cluster", None)
    return {"name": engine, "cluster": cluster.to_record() if cluster else None}


def backend_record(emb, resolved, fingerprint: str, encode) -> dict | None:
    """For the run record: the backend, its runtime and, for an exported model, the sha256 of
    the model.onnx that encoded (or that this machine holds for these weights, when nothing was
    encoded); None for the hashing stand-in, which has no forward pass."""
    if embedding.hashing.is_hashing(emb.model):
        return None
    found = getattr(encode, "backend_info", lambda: None)()
    return found or backends.describe(emb.backend, resolved.path, fingerprint)


def _on_cluster(encode) -> str:
    cluster = getattr(encode, "cluster", None)
    if cluster is None:
        return ""
    cpus = cluster.resources.get("CPU", 0)
    return f"; on Ray {cluster.ray_version} at {cluster.address}: {len(cluster.nodes)} node(s), {cpus:g} CPUs"


def _column_missing(emb, fingerprint: str) -> bool:
    """True when the table exists but has no column for this model and encoding scheme."""
    if not lance_table.exists(emb.uri, emb.table, emb.storage_options):
        return False
    meta = lance_table.read_meta(lance_table.dataset(emb.uri, emb.table, storage_options=emb.storage_options))
    return lance_table.column_for(meta, emb.model, fingerprint, emb.normalize, emb.encoding, emb.backend) is None


if __name__ == "__main__":
    run(main)
