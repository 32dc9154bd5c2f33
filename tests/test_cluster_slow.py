"""A real two-node Ray cluster on this machine (two raylets, `ray start`), the real model, and
`dvc repro` with embedding.engine: ray against it: byte-equal vectors, the same vectors_sha256
and the same model as a local `dvc repro`, and a run record that lists both nodes.

The cluster runs with token authentication (a token made here, passed in the environment), in
its own temp dir, and is stopped by the process groups this test started, also on failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from factories import copy_sources, edit_conf, ensure_data, latest_record, params_of
from tools import VENV_BIN, free_port

from reprostack import vectors
from reprostack.model import training
from reprostack.vectors import lance_table, pointer

pytestmark = pytest.mark.slow


def ray_start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """`ray start` in a new process group: the daemons it leaves behind stay in that group. Its
    output goes to a file: the daemons keep a pipe open long after `ray start` returns."""
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(VENV_BIN / "ray"), "start", "--disable-usage-stats", *args],
            env=env,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    assert process.wait(timeout=120) == 0, log.read_text()[-3000:]
    return process


def stop(groups: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                pass
        time.sleep(1)


@pytest.fixture
def two_nodes():
    """(address, environment for its drivers) of a head and a second node, one CPU each."""
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    port = free_port()
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--temp-dir", temp]
    groups = []
    try:
        groups.append(
            ray_start(
                [
                    "--head",
                    "--port",
                    str(port),
                    "--include-dashboard",
                    "false",
                    "--node-manager-port",
                    str(free_port()),
                    *common,
                ],
                env,
                Path(temp) / "head.log",
            ).pid
        )
        groups.append(
            ray_start(
                ["--address", f"127.0.0.1:{port}", "--node-manager-port", str(free_port()), *common],
                env,
                Path(temp) / "node.log",
            ).pid
        )
        yield f"127.0.0.1:{port}", env
    finally:
        stop(groups)
        left = subprocess.run(["pgrep", "-f", temp], capture_output=True, text=True).stdout.split()
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"Ray processes left running: {left}"


def repro(root: Path, env: dict) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "dvc"), "repro"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**env, "PATH": f"{VENV_BIN}{os.pathsep}{env['PATH']}"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def outputs(root: Path):
    params = params_of(root)
    ptr = vectors.read_vectors_pointer(root / params.paths.vectors_pointer)
    data = lance_table.dataset(str(root / ptr.uri), ptr.table, ptr.version)
    rows = pointer.read_column(data, ptr.vector_column)
    return ptr, rows, training.read_card(root / params.paths.candidate).sha256


def test_dvc_repro_on_a_two_node_cluster_is_bit_identical_to_one_machine(two_nodes, tmp_path):
    address, env = two_nodes
    local = copy_sources(tmp_path / "local")
    ensure_data(local)  # a project rendered without the sample data gets generated rows
    repro(local, env)
    on_ray = copy_sources(tmp_path / "ray")
    ensure_data(on_ray)
    edit_conf(on_ray, embedding={"engine": "ray", "ray": {"address": address, "batch_size": 128}})
    repro(on_ray, env)
    (ptr, rows, model), (ptr_ray, rows_ray, model_ray) = outputs(local), outputs(on_ray)
    assert rows_ray.ids == rows.ids and rows_ray.vectors.tobytes() == rows.vectors.tobytes()
    assert np.array_equal(rows_ray.vectors, rows.vectors)
    assert ptr_ray.vectors_sha256 == ptr.vectors_sha256 and model_ray == model
    engine = latest_record(on_ray)["engine"]
    assert engine["name"] == "ray" and engine["cluster"]["address"] == address
    assert len(engine["cluster"]["nodes"]) == 2 and engine["cluster"]["resources"]["CPU"] == 2.0
    data = lance_table.dataset(str(on_ray / ptr_ray.uri), ptr_ray.table)
    assert len(data.get_fragments()) == -(-ptr_ray.rows // 128)  # written by the actors, one commit
    local_engine = latest_record(local)["engine"]
    assert {k: local_engine[k] for k in ("name", "cluster")} == {"name": "local", "cluster": None}
    assert local_engine["backend"]["name"] == params_of(local).embedding.backend  # and its runtime, export digest
