import json

import pytest
from tools import git

from reprostack.core.errors import ReprostackError, RunRecordError
from reprostack.runs import environment, records

RUN_ID = "20260101T000000000000Z-abcdef"


@pytest.fixture
def record(run_record):
    """record(run_id, **changes): the record stage's own record, renamed and changed."""

    def make(run_id=RUN_ID, **changes):
        fields = {k: v for k, v in run_record.items() if k != "schema_version"}
        return {**fields, "run_id": run_id, **changes}

    return make


def test_run_ids_sort_by_time_and_are_unique():
    ids = [records.new_run_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(records.RUN_ID_RE.match(i) for i in ids)
    assert [i[:22] for i in ids] == sorted(i[:22] for i in ids)


def test_records_are_never_overwritten(tmp_path, record):
    path = records.write_record(tmp_path, record())
    assert records.read_record(tmp_path, RUN_ID)["run_id"] == RUN_ID
    original = records.read_record(tmp_path, RUN_ID)["outputs"]
    with pytest.raises(RunRecordError, match="never overwritten"):
        records.write_record(tmp_path, record(outputs={**original, "metrics": {"x": 1}}))
    assert records.read_record(tmp_path, RUN_ID)["outputs"] == original
    assert original["metrics"] != {"x": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp files left


def test_unknown_malicious_and_ambiguous_run_ids(tmp_path, record):
    with pytest.raises(RunRecordError, match="no run '20990101T000000000000Z-000000'"):
        records.read_record(tmp_path, "20990101T000000000000Z-000000")
    with pytest.raises(RunRecordError, match="invalid run id"):
        records.read_record(tmp_path, "../etc/passwd")
    records.write_record(tmp_path, record())
    records.write_record(tmp_path, record("20260101T000000000001Z-abcdef"))
    assert records.resolve_run_id(tmp_path, "latest") == "20260101T000000000001Z-abcdef"
    assert records.resolve_run_id(tmp_path, "20260101T000000000000") == RUN_ID
    with pytest.raises(RunRecordError, match="matches 2 runs"):
        records.resolve_run_id(tmp_path, "2026")
    with pytest.raises(RunRecordError, match="no run 'zzz'"):
        records.resolve_run_id(tmp_path, "zzz")


def test_hand_edited_records_are_clear_errors(tmp_path, record):
    path = records.write_record(tmp_path, record())
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "run_id": "20260101T000000000009Z-abcdef"}))
    with pytest.raises(RunRecordError, match="edited or renamed by hand"):
        records.read_record(tmp_path, RUN_ID)
    path.write_text(json.dumps({**data, "outputs": "fast"}))
    with pytest.raises(RunRecordError, match="outputs: Input should be a valid dictionary"):
        records.read_record(tmp_path, RUN_ID)
    path.write_text(json.dumps({**data, "surprise": 1}))
    with pytest.raises(RunRecordError, match="surprise: Extra inputs are not permitted"):
        records.read_record(tmp_path, RUN_ID)
    path.write_text("{not json")
    with pytest.raises(RunRecordError, match="not valid JSON"):
        records.read_record(tmp_path, RUN_ID)


def test_new_records_carry_the_seed_repro_record_fields(tmp_path, record):
    lock = "ab" * 32
    records.write_record(
        tmp_path,
        record(
            code={"commit": "c" * 40, "dirty": False},
            data={"dataset": "sample", "snapshot": "ab71ea2b42a8"},
            environment={"python": "3.11.7", "requirements_lock_sha256": lock},
            outputs={"metrics": {"accuracy": 0.9}, "model": {"path": "models/candidate/model.pkl", "sha256": "d" * 64}},
        ),
    )
    data = json.loads((tmp_path / f"{RUN_ID}.json").read_text())
    assert data["schema_version"] == records.RunRecord.SCHEMA_VERSION == 2
    assert data["code_commit"] == "c" * 40 and data["data_snapshot"] == "sample@ab71ea2b42a8"
    assert data["env"] == {"python": "3.11.7", "requirements_lock": f"sha256:{lock}"}
    assert data["outputs"]["model_version"] is None and data["outputs"]["metrics"] == {"accuracy": 0.9}
    assert data["code"]["commit"] == "c" * 40  # the richer fields stay beside the seed's


def test_records_of_the_older_schema_are_migrated_on_read(tmp_path):
    """The oldest record committed in runs/ (schema 1, written before issue 12) still reads."""
    from factories import REPO

    old = [p for p in sorted((REPO / "runs").glob("*.json")) if json.loads(p.read_text()).get("schema_version") == 1]
    if not old:
        pytest.skip("runs/ holds no schema-1 record (a project made from the template starts with none)")
    oldest = old[0]
    original = json.loads(oldest.read_text())
    assert original["schema_version"] == 1 and "env" not in original  # really the old shape
    (tmp_path / oldest.name).write_bytes(oldest.read_bytes())
    migrated = records.read_record(tmp_path, oldest.stem)
    assert migrated["schema_version"] == 2
    assert migrated["code_commit"] == original["code"]["commit"]
    assert migrated["data_snapshot"] == f"{original['data']['dataset']}@{original['data']['snapshot']}"
    assert migrated["env"]["requirements_lock"] == "sha256:" + original["environment"]["requirements_lock_sha256"]
    assert migrated["outputs"]["metrics"] == original["outputs"]["metrics"]
    assert (tmp_path / oldest.name).read_bytes() == oldest.read_bytes()  # read, never rewritten
    assert len(records.list_records(REPO / "runs")) == len(list((REPO / "runs").glob("*.json")))


def test_model_version_comes_from_the_registry_at_read_time(tmp_path, record):
    records.write_record(tmp_path, record())
    data = records.read_record(tmp_path, RUN_ID)
    registry = {
        "models": [
            {
                "name": "clf",
                "versions": [{"version": "v0.1.0", "run_id": RUN_ID}, {"version": "v0.2.0", "run_id": "other"}],
            }
        ]
    }
    assert records.with_release(data, registry)["outputs"]["model_version"] == "clf@v0.1.0"
    assert records.with_release(data, None)["outputs"]["model_version"] is None


def test_cpu_model_and_vector_flags_and_their_differences(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse4_2 avx avx2 fma avx512f ht\n")
    cpu = environment.cpu(info)
    assert cpu == {"model": "Test CPU 9000", "vector_flags": ["avx", "avx2", "avx512f", "fma", "sse4_2"]}
    old = {"python": "3.11.7", "cpu": cpu, "packages": {"torch": "2.13.0", "numpy": "2.4.6"}}
    new = {
        "python": "3.11.7",
        "cpu": {"model": "Other CPU", "vector_flags": ["avx", "avx2", "fma", "sse4_2", "amx_tile"]},
        "packages": {"torch": "2.13.0", "numpy": "2.4.7"},
    }
    assert environment.differences(old, new) == [
        "cpu model: Test CPU 9000 -> Other CPU",
        "cpu vector flags: lost avx512f, gained amx_tile",
        "numpy: 2.4.6 -> 2.4.7",
    ]
    assert environment.differences(old, old) == []


def test_what_the_bits_depend_on_is_recorded_and_named_when_machines_differ():
    env = environment.capture(threads=3)
    compute = env["compute"]
    assert compute["threads"] == 3 and compute["torch"] == environment.installed_version("torch")
    # the build that picks the float kernels: BLAS, oneDNN, the CPU capability torch dispatches to
    assert {"blas", "onednn", "mkl", "cpu_capability", "mkldnn_enabled"} <= set(compute)
    assert compute["cpu_capability"] and compute["blas"]
    other = {
        **env,
        "cpu": {**env["cpu"], "vector_flags": sorted({*env["cpu"]["vector_flags"], "amx_complex"} - {"avx512f"})},
        "compute": {**compute, "cpu_capability": "NOT-" + compute["cpu_capability"], "onednn": "v0", "threads": 1},
    }
    lines = environment.differences(env, other)
    assert "threads: 3 -> 1" in lines and "torch onednn: " + str(compute["onednn"]) + " -> v0" in lines
    machines = environment.bits_differences(lines)
    assert any(m.startswith("cpu vector flags (") and "amx_complex" in m for m in machines)
    assert {
        "threads (3 -> 1)",
        f"torch cpu_capability ({compute['cpu_capability']} -> NOT-{compute['cpu_capability']})",
    } <= set(machines)
    assert environment.bits_differences(environment.differences(env, env)) == []
    # records made before `compute` compare without it
    assert environment.differences({k: v for k, v in env.items() if k != "compute"}, env) == []


def test_reproduce_tolerance_comes_from_conf():
    from factories import REPO

    from reprostack.core import config
    from reprostack.runs import reproduce

    composed = config.compose(REPO / "conf")
    assert reproduce.tolerance(composed).model_dump() == composed["reproduce"]
    with pytest.raises(RunRecordError, match="reproduce.metric_abs: must be a non-negative number"):
        reproduce.tolerance({"reproduce": {"metric_abs": "tight"}})


def test_git_state_ignores_pipeline_outputs(tmp_path):
    assert records.git_state(tmp_path)["commit"] is None
    git(tmp_path, "init", "-q")
    for name in ("a.txt", "dvc.lock"):
        (tmp_path / name).write_text("1")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "c")
    clean = records.git_state(tmp_path)
    assert len(clean["commit"]) == 40 and clean["dirty"] is False and clean["diff_sha256"] is None
    (tmp_path / "dvc.lock").write_text("2")
    assert records.git_state(tmp_path, exclude=["dvc.lock"])["dirty"] is False
    (tmp_path / "a.txt").write_text("2")
    dirty = records.git_state(tmp_path, exclude=["dvc.lock"])
    assert dirty["dirty"] is True and dirty["changed"] == ["a.txt"] and len(dirty["diff_sha256"]) == 64


def test_pipeline_outputs_come_from_dvc_lock(tmp_path):
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  train:\n    cmd: x\n    outs:\n    - path: models/candidate\n      md5: 1\n"
    )
    assert records.pipeline_outputs(tmp_path) == ["dvc.lock", "models/candidate", "runs"]


def test_environment_compared_with_the_lock(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        f"pytest=={environment.installed_version('pytest')}\n    # via x\nnumpy==0.0.1\nsurely-not-installed-pkg==1.0\n"
    )
    assert environment.compare_to_lock(lock) == [
        "numpy: installed " + environment.installed_version("numpy") + ", lock pins 0.0.1",
        "surely-not-installed-pkg: not installed (lock pins 1.0)",
    ]
    lock.write_text("# nothing pinned\n")
    with pytest.raises(ReprostackError, match="pins no packages"):
        environment.compare_to_lock(lock)
    captured = environment.capture(tmp_path, threads=2)
    assert captured["threads"]["configured"] == 2 and captured["packages"]["torch"]


def test_release_workflow_is_valid_and_runs_the_checks():
    import yaml
    from factories import REPO

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    # YAML 1.1 reads the bare key `on` as True
    triggers = workflow.get("on", workflow.get(True))
    # project releases, and model releases made by `reprostack release` (GTO's name@vX.Y.Z)
    assert triggers["push"]["tags"] == ["v[0-9]+.[0-9]+.[0-9]+", "*@v[0-9]+.[0-9]+.[0-9]+"]
    steps = workflow["jobs"]["release"]["steps"]
    commands = " ".join(step.get("run", "") for step in steps)
    for needed in (
        "make env",
        "dvc pull",
        "reprostack verify",
        "dvc repro",
        "run_id=latest",
        "reprostack registry show",
        'reprostack runs reproduce "$run_id"',
    ):
        assert needed in commands
    assert steps[0]["with"]["fetch-depth"] == 0
    # every make target the workflow calls exists
    makefile = (REPO / "Makefile").read_text()
    assert "\nenv:" in makefile


def test_reproduce_refuses_missing_commit_and_dirty_runs(built, record):
    from factories import params_of
    from tools import run_cli

    runs = built / params_of(built).paths.runs
    records.write_record(runs, record("20260101T000000000000Z-aaaaaa", code={"commit": "1" * 40, "dirty": False}))
    head = git(built, "rev-parse", "HEAD").strip()
    records.write_record(
        runs, record("20260101T000000000000Z-bbbbbb", code={"commit": head, "dirty": True, "changed": ["src/x.py"]})
    )
    gone = run_cli(built, "runs", "reproduce", "20260101T000000000000Z-aaaaaa")
    assert gone.returncode == 1 and "commit 111111111111 of run" in gone.stderr and "is gone" in gone.stderr
    dirty = run_cli(built, "runs", "reproduce", "20260101T000000000000Z-bbbbbb")
    assert (
        dirty.returncode == 1
        and "uncommitted changes to src/x.py, and no commit" in dirty.stderr
        and "--allow-dirty" in dirty.stderr
    )
    assert git(built, "worktree", "list").count("\n") == 1  # no worktree left behind
