import argparse
import json
import shutil
import subprocess
import sys

import pytest
import yaml
from factories import REPO, params_of
from tools import run_cli

from reprostack.cli import build_parser


def commands(parser=None, prefix=()):
    """Every command path of the parser, walked from argparse itself (a new command is covered
    without editing this file)."""
    parser = parser or build_parser()
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*prefix, name))


COMMANDS = list(commands())


def test_the_walk_finds_every_group():
    groups = {path[0] for path in COMMANDS if path}
    assert {"params", "snapshot", "vectors", "runs", "verify", "release", "registry", "predict", "serve"} <= groups
    assert len(COMMANDS) >= 35


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_command_has_help(command):
    result = run_cli(REPO, *command, "--help")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith(" ".join(("usage: reprostack", *command)))


def test_the_installed_command_runs_in_a_fresh_process():
    """The one subprocess smoke test: the entry point works outside pytest's process."""
    result = subprocess.run([sys.executable, "-m", "reprostack", "registry", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("usage: reprostack registry")


def test_cold_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from reprostack.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('torch', 'lancedb', 'sklearn', 'sentence_transformers', 'hydra', "
        "'fastapi', 'uvicorn', 'gto', 'dvc') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def change_seed(root, value=None):
    """Edit params.yaml by hand (what `params check` must catch); return (old, new) seed."""
    path = root / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    old = raw["seed"]
    raw["seed"] = old + 1 if value is None else value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return old, raw["seed"]


def test_params_check_passes_on_repo_and_fails_on_drift(project):
    assert run_cli(project, "params", "check").returncode == 0
    old, new = change_seed(project)
    result = run_cli(project, "params", "check", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["drift"] == {"seed": [old, new]}
    assert "move the change into conf/" in result.stderr
    composed = run_cli(project, "params", "compose")
    assert composed.returncode == 0 and f"seed: {new} -> {old}" in composed.stdout
    assert run_cli(project, "params", "check").returncode == 0


def test_bad_param_value_is_one_line(project):
    change_seed(project, "abc")
    result = run_cli(project, "params", "show")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: params.yaml: seed must be a non-negative integer, got 'abc'; "
        "fix it in conf/ (or pass -S seed=<value> to dvc exp run)"
    )


def test_snapshot_create_list_show_verify(project):
    created = run_cli(project, "snapshot", "create", "--json")
    assert created.returncode == 0, created.stderr
    version = json.loads(created.stdout)["version"]
    listed = json.loads(run_cli(project, "snapshot", "list", "--json").stdout)
    assert [row["version"] for row in listed] == [version]
    shown = json.loads(run_cli(project, "snapshot", "show", version, "--json").stdout)
    # the pipeline's raw directory is snapshotted as the stage does it: the data file alone
    # (a rendered project's data/raw also holds a README)
    assert [f["path"] for f in shown["files"]] == [params_of(project).data.file]
    verified = run_cli(project, "snapshot", "verify", version, "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True


def test_unknown_run_id_is_an_error(project):
    result = run_cli(project, "runs", "show", "nope")
    assert result.returncode == 1 and result.stderr.startswith("error: no run")


def test_snapshot_labels_diff_and_failed_verify(project):
    # a directory of its own: in the pipeline's raw directory only the data file is snapshotted
    raw = project / "extra"
    shutil.copytree(project / "data" / "raw", raw)
    first = json.loads(run_cli(project, "snapshot", "create", "--source", "extra", "--label", "v0.1", "--json").stdout)
    (raw / "notes.txt").write_text("a second file\n")
    second = json.loads(run_cli(project, "snapshot", "create", "--source", "extra", "--label", "v0.2", "--json").stdout)
    assert first["version"] != second["version"]
    listed = json.loads(run_cli(project, "snapshot", "list", "--json").stdout)
    assert sorted(sum((row["labels"] for row in listed), [])) == ["v0.1", "v0.2"]
    assert "v0.2" in run_cli(project, "snapshot", "list").stdout
    diff = run_cli(project, "snapshot", "diff", "v0.1", "v0.2")
    assert diff.returncode == 0 and diff.stdout.strip() == "+ notes.txt"
    moved = run_cli(project, "snapshot", "create", "--source", "extra", "--label", "v0.1")
    assert moved.returncode == 1 and "already names snapshot" in moved.stderr
    target = project / second["path"] / "notes.txt"
    target.chmod(0o644)
    target.write_text("changed\n")
    failed = run_cli(project, "snapshot", "verify", "v0.2", "--json")
    assert failed.returncode == 1 and json.loads(failed.stdout)["problems"] == ["changed: notes.txt"]
    assert run_cli(project, "snapshot", "verify", "v0.1").returncode == 0
    unknown = run_cli(project, "snapshot", "show", "v9.9")
    assert unknown.returncode == 1 and "no snapshot 'v9.9'" in unknown.stderr
    bad = run_cli(project, "snapshot", "create", "--dataset", "../x")
    assert bad.returncode == 1 and "invalid dataset name '../x'" in bad.stderr


def test_runs_list_show_diff_with_records(project, run_record):
    from reprostack.runs import records

    runs = project / params_of(project).paths.runs
    seed, accuracy = run_record["params"]["seed"], run_record["outputs"]["metrics"]["accuracy"]
    first = {**run_record, "run_id": "20260101T000000000000Z-aaaaaa"}
    second = {
        **run_record,
        "run_id": "20260102T000000000000Z-bbbbbb",
        "params": {**run_record["params"], "seed": seed + 1},
        "outputs": {**run_record["outputs"], "metrics": {**run_record["outputs"]["metrics"], "accuracy": 0.5}},
    }
    for record in (first, second):
        records.write_record(runs, {k: v for k, v in record.items() if k != "schema_version"})
    listed = json.loads(run_cli(project, "runs", "list", "--json").stdout)
    ids = [r["run_id"] for r in listed]
    assert ids == sorted(ids) and {first["run_id"], second["run_id"]} <= set(ids)
    shown = json.loads(run_cli(project, "runs", "show", "20260102", "--json").stdout)
    assert shown["params"]["seed"] == seed + 1
    diff = json.loads(run_cli(project, "runs", "diff", "20260101", "20260102", "--json").stdout)
    assert diff["changes"] == {"params.seed": [seed, seed + 1], "outputs.metrics.accuracy": [accuracy, 0.5]}
    text = run_cli(project, "runs", "diff", "20260101", "20260102").stdout
    assert "params.seed" in text and "0.5" in text


def test_verify_reports_each_problem_and_exits_nonzero(project):
    ok = run_cli(project, "verify", "--json")
    report = json.loads(ok.stdout)
    assert report["environment"]["problems"] == [] and report["params"]["problems"] == []
    assert report["registry"]["checked"] == 0 and "no models/registry.json yet" in report["registry"]["note"]
    change_seed(project)
    lock = project / "requirements.lock"
    lock.write_text(lock.read_text().replace("pytest==", "pytest==0.0.1\n# was pytest=="))
    failed = run_cli(project, "verify")
    assert failed.returncode == 1
    assert "params: FAILED" in failed.stdout and "seed" in failed.stdout
    assert "pytest: installed" in failed.stdout and "lock pins 0.0.1" in failed.stdout
    # each section is printed as it finishes (in order, once), then the verdict
    heads = [line.split(":")[0] for line in failed.stdout.splitlines() if not line.startswith(" ")]
    assert heads[0] == "environment" and sorted(heads[:-1]) == sorted(k for k in report if k != "ok")
    assert heads[-1] == "FAILED"
    assert failed.stdout.splitlines()[-1] == "FAILED: environment, params"


def test_verify_hands_each_section_over_as_it_finishes(project):
    from reprostack import api

    heard = []
    report = api.verify(project, on_section=lambda name, check: heard.append((name, check)))
    assert [name for name, _ in heard] == list(report.sections)
    assert all(check is report.sections[name] for name, check in heard)


def _vector_table(project):
    """The project's table built with stand-in vectors (the real model runs in the slow tests)."""
    import numpy as np

    from reprostack.vectors import update

    emb = params_of(project).embedding
    uri = str(project / emb.uri)
    ids, texts = ["a", "b", "c", "d"], ["one", "two", "three", "four"]
    vecs = np.eye(4, 8, dtype=np.float32) + 0.01
    update.update(
        uri,
        emb.table,
        ids,
        texts,
        ["x", "y", "x", "y"],
        emb.model,
        "f",
        True,
        lambda t: vecs[[texts.index(x) for x in t]],
        "s",
    )
    update.update(
        uri,
        emb.table,
        ids,
        ["one", "two!", "three", "four"],
        ["x", "y", "x", "x"],
        emb.model,
        "f",
        True,
        lambda t: vecs[[1 for _ in t]],
        "s",
    )
    return uri, emb.table


def test_vectors_versions_show_diff_restore_optimize(project):
    _vector_table(project)
    versions = json.loads(run_cli(project, "vectors", "versions", "--json").stdout)
    assert [v["version"] for v in versions] == [1, 2] and versions[1]["rows"] == 4
    shown = json.loads(run_cli(project, "vectors", "show", "--version", "1", "--json").stdout)
    assert shown["version"] == 1 and shown["active_column"] == "vector" and shown["indices"] == []
    changes = json.loads(run_cli(project, "vectors", "diff", "1", "2", "--json").stdout)
    assert changes["changed"] == ["b", "d"] and changes["added"] == []
    restored = run_cli(project, "vectors", "restore", "1")
    assert restored.returncode == 0 and "restored version 1 as new version 3" in restored.stdout
    assert json.loads(run_cli(project, "vectors", "diff", "1", "3", "--json").stdout)["changed"] == []
    optimized = json.loads(run_cli(project, "vectors", "optimize", "--older-than-days", "0", "--json").stdout)
    assert optimized["versions_removed"] >= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["vectors", "show", "--tag", "nope"], "has no version or tag 'nope'"),
        (["vectors", "show", "--version", "1", "--tag", "x"], "give --version or --tag, not both"),
        (["vectors", "restore", "99"], "has no version or tag 99"),
        (["vectors", "diff", "1", "nope"], "has no version or tag 'nope'"),
        (["vectors", "search", "hello", "--where", "label ==== 'x'"], "--where \"label ==== 'x'\" does not parse"),
        (["vectors", "search", "hello", "--column", "vector_other"], "no vector column 'vector_other'"),
        (["vectors", "drop-column", "vector"], "'vector' is the active column"),
        (["vectors", "migrate", "--to", "no-such-model"], "embedding model 'no-such-model' not found"),
    ],
)
def test_vectors_bad_input_is_one_line(project, args, message):
    from reprostack.vectors import lance_table

    uri, table = _vector_table(project)
    before = lance_table.dataset(uri, table).versions()
    result = run_cli(project, *args)
    assert result.returncode == 1 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert lance_table.dataset(uri, table).versions() == before  # nothing written


def test_vectors_commands_without_a_table_say_how_to_build_it(project):
    result = run_cli(project, "vectors", "versions")
    assert result.returncode == 1 and "run `dvc repro` to build it" in result.stderr


def test_verify_checks_the_pinned_vector_version(built):
    from reprostack import vectors

    params = params_of(built)
    path = built / params.paths.vectors_pointer
    pinned = vectors.read_vectors_pointer(path)  # as the embed stage wrote it
    report = run_cli(built, "verify", "--json").json()["vectors"]
    assert report["checked"] == 1 and report["problems"] == []
    assert report["note"] == f"table {pinned.table}, tag {pinned.tag}" and pinned.version is None
    # the pointer edited by hand: one hex digit of its content hash changed
    flipped = pinned.vectors_sha256[:-1] + ("0" if pinned.vectors_sha256[-1] != "0" else "1")
    vectors.write_vectors_pointer(path, pinned.model_copy(update={"vectors_sha256": flipped}))
    failed = run_cli(built, "verify")
    assert (
        failed.returncode == 1 and "vectors: FAILED" in failed.stdout and "does not match its pointer" in failed.stdout
    )
