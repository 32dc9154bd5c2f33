"""Issue 13, the real pipeline (slow): kill -9 in each stage, then `dvc repro` completes with the
same outputs (sha256); and every corruption `verify` must catch, with the fix it prints.

Real `dvc repro` processes and stages; the encoder is the built-in stand-in (`hashing:16` in
conf/), since what is tested is the pipeline's recovery, not the model (the real model's full
pipeline is test_pipeline.py's)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from factories import params_of
from tools import VENV_BIN, fix_command, run_fix
from tools import cli_process as cli


def dvc(root: Path, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    if kill_at:
        env["REPROSTACK_KILL_AT"] = kill_at
    return subprocess.run([str(VENV_BIN / "dvc"), *args], cwd=root, capture_output=True, text=True, env=env)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(root: Path) -> dict:
    return json.loads(cli(root, "verify", "--json").stdout)


def failing(report: dict) -> dict:
    return {name: s["problems"] for name, s in report.items() if isinstance(s, dict) and s["problems"]}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from factories import STAND_IN, commit_all, copy_sources, edit_conf

    root = copy_sources(tmp_path_factory.mktemp("faults") / "project")
    edit_conf(root, embedding={"model": STAND_IN})
    commit_all(root, "the stand-in encoder")
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "DVC_NO_ANALYTICS": "1",
    }
    subprocess.run([str(VENV_BIN / "dvc"), "repro"], cwd=root, check=True, capture_output=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "commit", "-qm", "built"],
        cwd=root,
        check=True,
        env={
            **env,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@x.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@x.invalid",
        },
    )
    outputs = {
        p: sha256(root / p)
        for p in ("models/candidate/model.pkl", "eval/metrics.json", "data/vectors.json", "data/snapshot.json")
    }
    return root, outputs


def records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / "runs").glob("*.json"))]


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["snapshot", "embed", "train", "evaluate"])
def test_kill_9_in_a_stage_then_repro_completes_with_the_same_outputs(pipeline, stage):
    root, outputs = pipeline
    before = len(records(root))
    for point in (f"stage.{stage}.start", f"stage.{stage}.before-stamp"):
        killed = dvc(root, "repro", "--force", "--single-item", stage, kill_at=point)
        assert killed.returncode != 0
    (root / "data" / ".snapshot.json.leftover.tmp").write_text("{")  # what a kill inside a write leaves
    done = dvc(root, "repro")
    assert done.returncode == 0, done.stderr
    assert not (root / "data" / ".snapshot.json.leftover.tmp").exists()
    assert failing(verify(root)) == {}
    assert {p: sha256(root / p) for p in outputs} == outputs  # independent: bit-identical outputs
    after = records(root)
    # killed before its stamp, the stage had written complete outputs equal to dvc.lock's, so DVC
    # has nothing to re-run and no run record is due; never an empty or duplicate one
    assert len(after) <= before + 1 and all(r["stages"] for r in after[before:])
    assert "Data and pipelines are up to date" in dvc(root, "repro").stdout


@pytest.mark.slow
def test_kill_9_after_the_record_is_written_leaves_no_duplicate(pipeline):
    root, outputs = pipeline
    before = len(records(root))
    assert dvc(root, "repro", "--force", "--single-item", "evaluate").returncode == 0
    assert dvc(root, "repro", kill_at="record.after-write").returncode != 0
    assert len(records(root)) == before + 1
    done = dvc(root, "repro")
    assert done.returncode == 0 and "already covers this run" in done.stdout
    after = records(root)
    assert len(after) == before + 1 and after[-1]["stages"]
    assert failing(verify(root)) == {}
    again = dvc(root, "repro").stdout  # no stage is always-changed: nothing runs
    assert re.findall(r"Running stage '(\w+)'", again) == [] and "Data and pipelines are up to date" in again


@pytest.mark.slow
def test_kill_9_in_the_compose_stage_then_repro_puts_params_back(pipeline):
    root, outputs = pipeline
    before, params = len(records(root)), (root / "params.yaml").read_bytes()
    for point in ("stage.compose.start", "stage.compose.before-stamp"):
        # a value left by `dvc exp run -S` (or a hand edit), which compose must put back
        (root / "params.yaml").write_bytes(params.replace(b"test_size: 0.2", b"test_size: 0.3"))
        killed = dvc(root, "repro", kill_at=point)
        assert killed.returncode != 0 and "Running stage 'snapshot'" not in killed.stdout
    done = dvc(root, "repro")
    assert done.returncode == 0, done.stderr
    assert (root / "params.yaml").read_bytes() == params
    assert failing(verify(root)) == {}
    assert {p: sha256(root / p) for p in outputs} == outputs
    after = records(root)  # compose changed no output: at most a record naming compose, never an empty one
    assert len(after) <= before + 1 and all(r["stages"] for r in after[before:])
    assert re.findall(r"Running stage '(\w+)'", dvc(root, "repro").stdout) == []


@pytest.mark.slow
@pytest.mark.parametrize("point", ["stage.record.start", "stage.record.before-stamp"])
def test_kill_9_in_the_record_stage_leaves_one_record_with_its_stages(pipeline, point):
    root, outputs = pipeline
    before = len(records(root))
    assert dvc(root, "repro", "--force", "--single-item", "evaluate").returncode == 0
    killed = dvc(root, "repro", kill_at=point)
    assert killed.returncode != 0 and "Running stage 'record'" in killed.stdout
    # start: killed before writing; before-stamp: killed after writing, before DVC saved dvc.lock
    assert len(records(root)) == before + (point.endswith("before-stamp"))
    done = dvc(root, "repro")
    assert done.returncode == 0, done.stderr
    after = records(root)
    assert len(after) == before + 1, "a duplicate or a missing run record"
    assert [s["stage"] for s in after[-1]["stages"]] == ["evaluate"]
    assert (
        after[-1]["outputs"]["model"]["sha256"]
        == json.loads((root / "models/candidate/model.json").read_text())["sha256"]
    )
    assert failing(verify(root)) == {}
    assert {p: sha256(root / p) for p in outputs} == outputs
    assert re.findall(r"Running stage '(\w+)'", dvc(root, "repro").stdout) == []


def _corrupt_and_fix(root: Path, corrupt, section: str, expect: str) -> None:
    corrupt(root)
    problems = failing(verify(root))
    assert section in problems and expect in problems[section][0], problems
    # a corruption may show in more than one check (a forged metrics.json also disagrees with its
    # run record); each finding names a fix, and the first one must fix them all
    assert all("fix: `" in line for lines in problems.values() for line in lines), problems
    run_fix(root, fix_command(problems[section][0]))  # asserts it exits 0
    assert failing(verify(root)) == {}


def _forge_metrics(root):
    path = root / "eval" / "metrics.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "accuracy": 0.999}))


def _truncate_record(root):
    path = sorted((root / "runs").glob("*.json"))[0]
    path.write_text(path.read_text()[:100])


def _tamper_model(root):
    with open(root / "models" / "candidate" / "model.pkl", "ab") as handle:
        handle.write(b"\0")


def _tamper_snapshot(root):
    pointer = json.loads((root / "data" / "snapshot.json").read_text())
    target = root / pointer["path"] / params_of(root).data.file
    target.chmod(0o644)
    with open(target, "a") as handle:
        handle.write("zz,forged row,sports\n")


def _drop_fragment(root):
    next((root / "data" / "vectors" / "texts.lance" / "data").glob("*.lance")).unlink()


def _drop_manifest(root):
    for path in (root / "data" / "vectors" / "texts.lance" / "_versions").glob("*.manifest"):
        path.unlink()


@pytest.mark.slow
@pytest.mark.parametrize(
    "corrupt, section, expect",
    [
        (_forge_metrics, "metrics", "does not match its model"),
        (_truncate_record, "runs", "is not valid JSON"),
        (_tamper_model, "models", "model.pkl: sha256"),
        (_tamper_snapshot, "snapshots", "changed: texts.csv"),
        (_drop_fragment, "vectors", "is torn"),
        (_drop_manifest, "vectors", "manifest"),
    ],
    ids=[
        "forged-metrics",
        "truncated-record",
        "tampered-model",
        "tampered-snapshot",
        "missing-fragment",
        "deleted-manifest",
    ],
)
def test_verify_detects_each_corruption_and_its_fix_works(pipeline, corrupt, section, expect):
    root, outputs = pipeline
    _corrupt_and_fix(root, corrupt, section, expect)
    assert sha256(root / "models" / "candidate" / "model.pkl") == outputs["models/candidate/model.pkl"]
