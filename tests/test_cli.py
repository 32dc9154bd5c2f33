import json
import subprocess
import sys

import pytest

from conftest import REPO

COMMANDS = [[], ["verify"], ["runs", "diff"], ["runs", "reproduce"], ["snapshot", "diff"], ["params"], ["params", "compose"], ["params", "check"], ["params", "show"],
            ["snapshot"], ["snapshot", "create"], ["snapshot", "list"], ["snapshot", "show"],
            ["snapshot", "verify"], ["runs"], ["runs", "list"], ["runs", "show"],
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
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.5"))
    result = cli("params", "check", "--json", cwd=project)
    assert result.returncode == 1
    assert json.loads(result.stdout)["drift"] == {"model.C": [1.0, 0.5]}
    assert "move the change into conf/" in result.stderr
    composed = cli("params", "compose", cwd=project)
    assert composed.returncode == 0 and "model.C: 0.5 -> 1.0" in composed.stdout
    assert cli("params", "check", cwd=project).returncode == 0


def test_bad_param_value_is_one_line(project):
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("C: 1.0", "C: abc"))
    result = cli("params", "show", cwd=project)
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: params.yaml: model.C must be a positive number, got 'abc'; "
                                     "fix it in conf/ (or pass -S model.C=<value> to dvc exp run)")


def test_snapshot_create_list_show_verify(project):
    created = cli("snapshot", "create", "--json", cwd=project)
    assert created.returncode == 0, created.stderr
    version = json.loads(created.stdout)["version"]
    listed = json.loads(cli("snapshot", "list", "--json", cwd=project).stdout)
    assert [row["version"] for row in listed] == [version]
    shown = json.loads(cli("snapshot", "show", version, "--json", cwd=project).stdout)
    assert shown["files"][0]["path"] == "texts.csv"
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
    from reprostack import runs

    base = {"created_utc": "2026-01-01T00:00:00Z", "code": {"commit": "a" * 40, "dirty": False},
            "data": {"snapshot": "abc"}, "environment": {"python": "3.11.7"}}
    runs.write_record(project / "runs", {**base, "run_id": "20260101T000000000000Z-aaaaaa",
                                         "params": {"model": {"name": "logreg", "C": 1.0}},
                                         "outputs": {"metrics": {"accuracy": 0.9}}})
    runs.write_record(project / "runs", {**base, "run_id": "20260102T000000000000Z-bbbbbb",
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
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.5"))
    lock = project / "requirements.lock"
    lock.write_text(lock.read_text().replace("pytest==", "pytest==0.0.1\n# was pytest=="))
    failed = cli("verify", cwd=project)
    assert failed.returncode == 1
    assert "params: FAILED" in failed.stdout and "model.C" in failed.stdout
    assert "pytest: installed" in failed.stdout and "lock pins 0.0.1" in failed.stdout
