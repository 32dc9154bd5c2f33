"""The embed stage with embedding.engine: ray (stand-in encoder on a local Ray instance): same
vectors and model as the local engine, the engine in the run record, and an unreachable
cluster as one line that names the address and a fix that works.

Each Ray run here starts and stops its own local instance (the stage's own connect), so an
address is never masked by a Ray already initialised in this process (`ray_stopped` stops the
session's instance first).
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from factories import STAND_IN, copy_sources, edit_conf, ensure_data, latest_record, params_of, run_stages
from tools import VENV_BIN, free_port

from reprostack import vectors
from reprostack.core.errors import ClusterError
from reprostack.model import training


@pytest.fixture
def pickled_by_value():
    """The stand-in encoder runs in Ray's actors, which cannot import the tests directory."""
    import factories
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(factories)
    try:
        yield
    finally:
        ray.cloudpickle.unregister_pickle_by_value(factories)


def ray_project(root):
    root = copy_sources(root)
    edit_conf(root, embedding={"model": STAND_IN, "engine": "ray", "ray": {"batch_size": 16}})
    ensure_data(root)
    return root


def run_stage(root, stage: str) -> None:
    """One stage in process, raising its error instead of exiting."""
    import importlib

    from reprostack.stages import _runner

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("REPROSTACK_TRACEBACK", "1")
        _runner.run(importlib.import_module(f"reprostack.stages.{stage}").main)


def outputs(root) -> tuple[str, str]:
    params = params_of(root)
    pointer = vectors.read_vectors_pointer(root / params.paths.vectors_pointer)
    return pointer.vectors_sha256, training.read_card(root / params.paths.candidate).sha256


@pytest.mark.slow  # a Ray instance
def test_the_pipeline_on_ray_makes_the_local_engines_vectors_and_model(
    built_once, ray_stopped, pickled_by_value, tmp_path
):
    root = ray_project(tmp_path / "project")
    run_stages(root)
    assert outputs(root) == outputs(built_once)
    record, local = latest_record(root), latest_record(built_once)
    assert record["engine"]["name"] == "ray" and local["engine"] == {"name": "local", "cluster": None}
    cluster = record["engine"]["cluster"]
    assert cluster["address"] == "local" and [n["ip"] for n in cluster["nodes"]] == ["127.0.0.1"]
    assert cluster["resources"]["CPU"] == params_of(root).threads and cluster["ray_version"].startswith("2.")


@pytest.mark.slow  # a Ray instance
def test_an_unreachable_cluster_is_one_line_naming_the_address_and_its_fix_works(
    ray_stopped, pickled_by_value, tmp_path
):
    address = f"127.0.0.1:{free_port()}"
    root = ray_project(tmp_path / "project")
    run_stage(root, "snapshot")
    params = params_of(root)
    # the real stage process (the real model's name: it fails before the model is loaded)
    edit_conf(root, embedding={"engine": "ray", "ray": {"address": address, "connect_timeout_s": 3}})
    started = time.monotonic()
    failed = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "reprostack.stages.embed"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode != 0 and time.monotonic() - started < 60
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and address in lines[0] and "set embedding.ray.address" in lines[0], failed.stderr
    assert "null to start a local Ray instance" in lines[0]
    # the same in process with the stand-in, then the printed fix: address null
    edit_conf(root, embedding={"model": STAND_IN, "engine": "ray", "ray": {"address": address, "connect_timeout_s": 3}})
    with pytest.raises(ClusterError, match=address):
        run_stage(root, "embed")
    assert not (root / params.paths.vectors_pointer).exists()
    # nothing written but the table's writer lock, which the stage took first (core/writer.py)
    table_dir = root / params.embedding.uri
    assert not table_dir.exists() or [p.name for p in table_dir.iterdir()] == [".texts.lance.writer.lock"]
    edit_conf(root, embedding={"model": STAND_IN, "engine": "ray", "ray": {"address": None}})
    run_stage(root, "embed")
    pointer = vectors.read_vectors_pointer(root / params.paths.vectors_pointer)
    assert vectors.resolve_version(pointer.model_copy(update={"uri": str(root / pointer.uri)})) == 1


def test_reprostack_help_does_not_import_ray():
    probe = "import sys, reprostack.cli, reprostack.stages.embed; print('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "False"
