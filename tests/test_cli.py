import json
import subprocess
import sys

import pytest
from conftest import REPO

COMMANDS = [[], ["verify"], ["runs", "diff"], ["runs", "reproduce"], ["snapshot", "diff"], ["params"], ["params", "compose"], ["params", "check"], ["params", "show"],
            ["snapshot"], ["snapshot", "create"], ["snapshot", "list"], ["snapshot", "show"],
            ["snapshot", "verify"], ["runs"], ["runs", "list"], ["runs", "show"], ["vectors"],
            *[["vectors", a] for a in ("versions", "show", "diff", "restore", "search", "optimize", "migrate",
                                       "drop-column")],
            ["release"], ["predict"], ["serve"], ["registry"], ["registry", "list"], ["registry", "show"],
            ["registry", "history"], ["registry", "promote"], ["registry", "demote"], ["registry", "rollback"]]


def cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "reprostack", *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_command_has_help(command):
    result = cli(*command, "--help")
    assert result.returncode == 0 and "usage: reprostack" in result.stdout


def test_cold_help_does_not_import_heavy_libraries():
    code = ("import sys; from reprostack.cli import build_parser; build_parser().format_help(); "
            "print(sorted(m for m in ('torch', 'lancedb', 'sklearn', 'sentence_transformers', 'hydra', 'fastapi', 'uvicorn', 'gto', 'dvc') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_params_check_passes_on_repo_and_fails_on_drift(project):
    assert cli("params", "check", cwd=project).returncode == 0
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("seed: 42", "seed: 7"))
    result = cli("params", "check", "--json", cwd=project)
    assert result.returncode == 1
    assert json.loads(result.stdout)["drift"] == {"seed": [42, 7]}
    assert "move the change into conf/" in result.stderr
    composed = cli("params", "compose", cwd=project)
    assert composed.returncode == 0 and "seed: 7 -> 42" in composed.stdout
    assert cli("params", "check", cwd=project).returncode == 0


def test_bad_param_value_is_one_line(project):
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("seed: 42", "seed: abc"))
    result = cli("params", "show", cwd=project)
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: params.yaml: seed must be a non-negative integer, got 'abc'; "
                                     "fix it in conf/ (or pass -S seed=<value> to dvc exp run)")


def test_snapshot_create_list_show_verify(project):
    created = cli("snapshot", "create", "--json", cwd=project)
    assert created.returncode == 0, created.stderr
    version = json.loads(created.stdout)["version"]
    listed = json.loads(cli("snapshot", "list", "--json", cwd=project).stdout)
    assert [row["version"] for row in listed] == [version]
    shown = json.loads(cli("snapshot", "show", version, "--json", cwd=project).stdout)
    assert [f["path"] for f in shown["files"]] == sorted(p.name for p in (project / "data" / "raw").iterdir())
    verified = cli("snapshot", "verify", version, "--json", cwd=project)
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True


def test_unknown_run_id_is_an_error(project):
    result = cli("runs", "show", "nope", cwd=project)
    assert result.returncode == 1 and result.stderr.startswith("error: no run")


def test_snapshot_labels_diff_and_failed_verify(project):
    first = json.loads(cli("snapshot", "create", "--label", "v0.1", "--json", cwd=project).stdout)
    raw = project / "data" / "raw"
    (raw / "notes.txt").write_text("a second file\n")
    second = json.loads(cli("snapshot", "create", "--label", "v0.2", "--json", cwd=project).stdout)
    assert first["version"] != second["version"]
    listed = json.loads(cli("snapshot", "list", "--json", cwd=project).stdout)
    assert sorted(sum((row["labels"] for row in listed), [])) == ["v0.1", "v0.2"]
    assert "v0.2" in cli("snapshot", "list", cwd=project).stdout
    diff = cli("snapshot", "diff", "v0.1", "v0.2", cwd=project)
    assert diff.returncode == 0 and diff.stdout.strip() == "+ notes.txt"
    moved = cli("snapshot", "create", "--label", "v0.1", cwd=project)
    assert moved.returncode == 1 and "already names snapshot" in moved.stderr
    target = project / second["path"] / "notes.txt"
    target.chmod(0o644)
    target.write_text("changed\n")
    failed = cli("snapshot", "verify", "v0.2", "--json", cwd=project)
    assert failed.returncode == 1 and json.loads(failed.stdout)["problems"] == ["changed: notes.txt"]
    assert cli("snapshot", "verify", "v0.1", cwd=project).returncode == 0
    unknown = cli("snapshot", "show", "v9.9", cwd=project)
    assert unknown.returncode == 1 and "no snapshot 'v9.9'" in unknown.stderr
    bad = cli("snapshot", "create", "--dataset", "../x", cwd=project)
    assert bad.returncode == 1 and "invalid dataset name '../x'" in bad.stderr


def test_runs_list_show_diff_with_records(project):
    from reprostack.runs import records

    base = {"created_utc": "2026-01-01T00:00:00Z", "code": {"commit": "a" * 40, "dirty": False},
            "data": {"snapshot": "abc"}, "environment": {"python": "3.11.7"}}
    records.write_record(project / "runs", {**base, "run_id": "20260101T000000000000Z-aaaaaa",
                                         "params": {"model": {"name": "logreg", "C": 1.0}},
                                         "outputs": {"metrics": {"accuracy": 0.9}}})
    records.write_record(project / "runs", {**base, "run_id": "20260102T000000000000Z-bbbbbb",
                                         "params": {"model": {"name": "logreg", "C": 0.1}},
                                         "outputs": {"metrics": {"accuracy": 0.8}}})
    listed = json.loads(cli("runs", "list", "--json", cwd=project).stdout)
    ids = [r["run_id"] for r in listed]
    assert ids == sorted(ids) and {"20260101T000000000000Z-aaaaaa", "20260102T000000000000Z-bbbbbb"} <= set(ids)
    shown = json.loads(cli("runs", "show", "20260102", "--json", cwd=project).stdout)
    assert shown["params"]["model"]["C"] == 0.1
    diff = json.loads(cli("runs", "diff", "20260101", "20260102", "--json", cwd=project).stdout)
    assert diff["changes"] == {"params.model.C": [1.0, 0.1], "outputs.metrics.accuracy": [0.9, 0.8]}
    text = cli("runs", "diff", "20260101", "20260102", cwd=project).stdout
    assert "params.model.C" in text and "0.1" in text


def test_verify_reports_each_problem_and_exits_nonzero(project):
    ok = cli("verify", "--json", cwd=project)
    report = json.loads(ok.stdout)
    assert report["environment"]["problems"] == [] and report["params"]["problems"] == []
    assert "registry" in report
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("seed: 42", "seed: 7"))
    lock = project / "requirements.lock"
    lock.write_text(lock.read_text().replace("pytest==", "pytest==0.0.1\n# was pytest=="))
    failed = cli("verify", cwd=project)
    assert failed.returncode == 1
    assert "params: FAILED" in failed.stdout and "seed" in failed.stdout
    assert "pytest: installed" in failed.stdout and "lock pins 0.0.1" in failed.stdout


def _vector_table(project):
    """The project's table built with stand-in vectors (the real model runs in the slow tests)."""
    import numpy as np

    from reprostack.vectors import update

    uri = str(project / "data" / "vectors")
    ids, texts = ["a", "b", "c", "d"], ["one", "two", "three", "four"]
    vecs = np.eye(4, 8, dtype=np.float32) + 0.01
    update.update(uri, "texts", ids, texts, ["x", "y", "x", "y"], "all-MiniLM-L6-v2", "f", True,
                  lambda t: vecs[[texts.index(x) for x in t]], "s")
    update.update(uri, "texts", ids, ["one", "two!", "three", "four"], ["x", "y", "x", "x"], "all-MiniLM-L6-v2", "f",
                  True, lambda t: vecs[[1 for _ in t]], "s")
    return uri


def test_vectors_versions_show_diff_restore_optimize(project):
    _vector_table(project)
    versions = json.loads(cli("vectors", "versions", "--json", cwd=project).stdout)
    assert [v["version"] for v in versions] == [1, 2] and versions[1]["rows"] == 4
    shown = json.loads(cli("vectors", "show", "--version", "1", "--json", cwd=project).stdout)
    assert shown["version"] == 1 and shown["active_column"] == "vector" and shown["indices"] == []
    changes = json.loads(cli("vectors", "diff", "1", "2", "--json", cwd=project).stdout)
    assert changes["changed"] == ["b", "d"] and changes["added"] == []
    restored = cli("vectors", "restore", "1", cwd=project)
    assert restored.returncode == 0 and "restored version 1 as new version 3" in restored.stdout
    assert json.loads(cli("vectors", "diff", "1", "3", "--json", cwd=project).stdout)["changed"] == []
    optimized = json.loads(cli("vectors", "optimize", "--older-than-days", "0", "--json", cwd=project).stdout)
    assert optimized["versions_removed"] >= 1


@pytest.mark.parametrize("args, message", [
    (["vectors", "show", "--tag", "nope"], "has no version or tag 'nope'"),
    (["vectors", "show", "--version", "1", "--tag", "x"], "give --version or --tag, not both"),
    (["vectors", "restore", "99"], "has no version or tag 99"),
    (["vectors", "diff", "1", "nope"], "has no version or tag 'nope'"),
    (["vectors", "search", "hello", "--where", "label ==== 'x'"], "--where \"label ==== 'x'\" does not parse"),
    (["vectors", "search", "hello", "--column", "vector_other"], "no vector column 'vector_other'"),
    (["vectors", "drop-column", "vector"], "'vector' is the active column"),
    (["vectors", "migrate", "--to", "no-such-model"], "embedding model 'no-such-model' not found"),
])
def test_vectors_bad_input_is_one_line(project, args, message):
    from reprostack.vectors import store

    uri = _vector_table(project)
    before = store.dataset(uri, "texts").versions()
    result = cli(*args, cwd=project)
    assert result.returncode == 1 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert store.dataset(uri, "texts").versions() == before  # nothing written


def test_vectors_commands_without_a_table_say_how_to_build_it(project):
    result = cli("vectors", "versions", cwd=project)
    assert result.returncode == 1 and "run `dvc repro` to build it" in result.stderr


def test_verify_checks_the_pinned_vector_version(project):
    from reprostack import vectors
    from reprostack.vectors import pointer, store

    uri = _vector_table(project)
    rows = pointer.read_column(store.dataset(uri, "texts", 1), "vector")
    pinned = vectors.Pointer(uri="data/vectors", table="texts", version=1, tag="t", rows=4, model="m",
                             model_fingerprint="f", dimension=8, vector_column="vector", metric="cosine",
                             vectors_sha256=store.content_sha256(rows.ids, rows.labels, rows.vectors), snapshot="s")
    vectors.write_pointer(project / "data" / "vectors.json", pinned)
    assert json.loads(cli("verify", "--json", cwd=project).stdout)["vectors"] == {
        "checked": 1, "problems": [], "note": "table texts version 1, tag t"}
    vectors.write_pointer(project / "data" / "vectors.json", vectors.Pointer(**{**pinned.__dict__, "version": 2}))
    failed = cli("verify", cwd=project)
    assert failed.returncode == 1 and "vectors: FAILED" in failed.stdout and "does not match its pointer" in failed.stdout
