"""A stage process pays only for what it uses (issue 25): no heavy package at module level, and
the record stage takes torch's build from the embed stage's stamp instead of importing torch."""

from __future__ import annotations

import json
import subprocess
import sys

from reprostack.core import jsonio
from reprostack.runs import environment
from reprostack.stages import _runner, record

STAGES = ("compose", "snapshot", "embed", "train", "evaluate", "record")
# Each costs 0.1-3 s to import on these cores; a stage imports one inside the function that uses it.
HEAVY = ("torch", "sentence_transformers", "transformers", "lancedb", "lance", "pyarrow", "sklearn", "scipy")
HEAVY += ("pandas", "numpy", "dvclive", "dvc", "hydra", "omegaconf", "ray")


def test_importing_a_stage_imports_no_heavy_package():
    # one interpreter, the stages in turn: a heavy package shows up after the first stage that imports it
    code = (
        "import importlib, json, sys\n"
        f"heavy = set({HEAVY!r})\n"
        "found = {}\n"
        f"for stage in {STAGES!r}:\n"
        "    importlib.import_module('reprostack.stages.' + stage)\n"
        "    found[stage] = sorted(heavy & {m.split('.')[0] for m in sys.modules} - set().union(*found.values()))\n"
        "print(json.dumps(found))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found = json.loads(result.stdout)
    assert set(found) == set(STAGES)
    assert found == {stage: [] for stage in STAGES}


def test_compute_is_only_asked_where_torch_is_already_loaded():
    code = (
        "import sys\n"
        "from reprostack.runs import environment\n"
        "print(environment.compute(2, loaded_only=True), 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["None", "False"]


def test_capture_takes_the_compute_it_is_given():
    given = {"torch": "9.9.9", "cpu_capability": "TEST", "threads": 3}
    assert environment.capture(threads=3, compute_info=given)["compute"] == given


def test_record_takes_compute_from_this_runs_embed_stamp_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no params.yaml: stamps under runs/stages
    given = {"torch": "9.9.9", "cpu_capability": "TEST", "threads": 3}
    jsonio.save(
        _runner.stamp_dir() / "embed.json",
        _runner.Stamp(
            stage="embed",
            started_utc="2026-01-01T00:00:00.000000Z",
            finished_utc="2026-01-01T00:00:01.000000Z",
            seconds=1.0,
            details={"engine": {"name": "local", "cluster": None}, "compute": given},
        ),
    )
    assert record.embed_compute([{"stage": "embed"}, {"stage": "train"}]) == given
    # embed did not run in this pipeline run: its stamp may be from another environment
    assert record.embed_compute([{"stage": "train"}]) is None
    assert record.embed_compute([]) is None
