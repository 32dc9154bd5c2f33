"""The Ray engine's checks and report that start no Ray instance (fast): fragments every node can
see, CUDA without GPUs for the actors refused (also from `vectors migrate`), the engine named in
migrate's text report. The tests that start Ray are in test_cluster.py and test_cluster_migrate.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprostack.core.params import RayParams
from reprostack.vectors import lance_table


def test_a_commit_never_names_fragment_files_this_machine_cannot_see(tmp_path):
    import pyarrow as pa
    from lance.fragment import write_fragments

    from reprostack.cluster import build
    from reprostack.core.errors import VectorStoreError

    # what an actor on another machine does with a local path: it writes to its own disk
    fragments = write_fragments(pa.table({"a": [1, 2]}), str(tmp_path / "elsewhere" / "t.lance"))
    build._check_visible(str(tmp_path / "elsewhere" / "t.lance"), fragments)  # visible: fine
    with pytest.raises(VectorStoreError, match="every node mounts"):
        build._check_visible(str(tmp_path / "here" / "t.lance"), fragments)


def test_cuda_without_gpus_for_the_actors_is_refused_before_anything_runs():
    from reprostack.cluster import encode
    from reprostack.core.errors import ConfigError
    from reprostack.core.params import EmbeddingParams
    from reprostack.model.embedding import ResolvedModel

    emb = EmbeddingParams(
        model="m",
        batch_size=8,
        device="cuda",
        normalize=True,
        uri="u",
        table="t",
        storage_options={},
        index_type="IVF_PQ",
        index_min_rows=10,
        engine="ray",
    )
    with pytest.raises(ConfigError, match="num_gpus"):
        encode.ray_encoder(ResolvedModel("m", Path(".")), emb, 0, 2)
    gpus = emb.model_copy(update={"ray": RayParams(num_gpus=1)})
    assert encode.ray_encoder(ResolvedModel("m", Path(".")), gpus, 0, 2).params.num_gpus == 1


@pytest.mark.parametrize("engine", ["--engine=ray", None])
def test_cuda_without_gpus_for_the_actors_is_one_line_and_nothing_is_written(built, engine):
    """The Ray engine's own config check, from `vectors migrate` too (no Ray started)."""
    from factories import edit_conf
    from tools import run_cli

    # a GPU runs the torch backend (the exported ones are CPU-only, params refuse them with cuda)
    edit_conf(built, embedding={"device": "cuda", "backend": "torch", **({} if engine else {"engine": "ray"})})
    before = lance_table.dataset(str(built / "data" / "vectors"), "texts").version
    done = run_cli(
        built, "vectors", "migrate", "--to", "sentence-transformers/all-MiniLM-L6-v2", *([engine] if engine else [])
    )
    assert done.returncode != 0 and done.stderr.count("\n") == 1
    assert "embedding.ray.num_gpus is 0" in done.stderr and "device: cpu" in done.stderr
    assert lance_table.dataset(str(built / "data" / "vectors"), "texts").version == before
    assert not (built / "runs" / "migrations").exists()


def test_the_text_report_names_the_engine(built):
    from tools import run_cli

    done = run_cli(built, "vectors", "migrate", "--to", "hashing:24", "--engine", "local")
    assert done.returncode == 0, done.stderr
    assert "embedded 650 rows in" in done.stdout and "s (local); checks: rows ok" in done.stdout
