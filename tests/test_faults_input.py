"""Issue 24: what a user types or leaves behind ends in one line naming the fix, never a
traceback: a YAML syntax error in conf/, `predict --url notaurl`, an embedding.uri outside the
project, Ctrl-C in a command, a torn DVC rwlock before `make repro`, a table removed by hand."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from factories import SOURCE, edit_conf, params_of
from registry_faults import NAME, consistent, state
from tools import VENV_BIN, cli_process, fix_command, one_line_error
from tools import run_cli as cli


def _one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error"), result.stderr
    return lines[0]


def test_a_yaml_syntax_error_in_conf_is_one_line_with_file_and_line(project):
    conf = project / "conf" / "config.yaml"
    conf.write_text(conf.read_text() + "broken: [1, 2\n")
    line = _one_line(cli(project, "params", "check"))
    assert "conf/config.yaml:" in line and "YAML syntax error" in line, line
    stage = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "reprostack.stages.compose"], cwd=project, capture_output=True, text=True
    )
    assert stage.returncode != 0 and "Traceback" not in stage.stderr, stage.stderr
    assert "YAML syntax error" in stage.stderr and "`dvc repro`" in stage.stderr, stage.stderr


def test_predict_with_a_url_that_is_no_url_is_one_line(project):
    line = _one_line(cli(project, "predict", "--url", "notaurl", "some text"))
    assert "'notaurl'" in line and "http://" in line, line


def test_a_table_outside_the_project_is_refused_unless_allowed(project, tmp_path):
    outside = tmp_path / "nonexistent" / "dir" / "vectors"
    edit_conf(project, compose=False, embedding={"uri": str(outside)})
    line = _one_line(cli(project, "params", "compose"))
    assert "embedding.uri" in line and "outside the project" in line and "allow_outside_project" in line, line
    assert not outside.parent.exists()
    edit_conf(project, compose=False, embedding={"uri": "../elsewhere/vectors"})
    assert "outside the project" in _one_line(cli(project, "params", "compose"))
    edit_conf(project, compose=False, embedding={"uri": str(outside), "allow_outside_project": True})
    assert cli(project, "params", "compose").returncode == 0
    assert params_of(project).embedding.uri == str(outside)


@pytest.mark.parametrize("point", ["release.after-commit"])
def test_ctrl_c_in_release_is_one_line_and_undone(candidate, point):
    before = state(candidate)
    result = cli_process(candidate, "release", NAME, env={"REPROSTACK_INTERRUPT_AT": point})
    assert result.returncode == 130 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "interrupted (Ctrl-C)" in errors[0] and "undone" in errors[0], result.stderr
    assert state(candidate) == before
    consistent(candidate)


def test_a_torn_dvc_rwlock_is_cleared_by_pipeline_prepare_when_no_dvc_runs(built):
    rwlock = built / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(parents=True, exist_ok=True)
    rwlock.write_text('{"read": {}, "wr')  # what a kill -9 between DVC's truncate and write leaves
    status = subprocess.run([str(VENV_BIN / "dvc"), "status"], cwd=built, capture_output=True, text=True)
    assert status.returncode != 0 and "rwlock" in (status.stdout + status.stderr).lower()
    result = cli(built, "pipeline", "prepare")
    assert result.returncode == 0 and "rwlock" in result.stdout, result.stderr
    status = subprocess.run([str(VENV_BIN / "dvc"), "status"], cwd=built, capture_output=True, text=True)
    assert status.returncode == 0, status.stdout + status.stderr
    # `make repro` runs it first (here and in a rendered project)
    rendered = next((SOURCE / "template").glob("{{*}}/Makefile"))
    for makefile in (SOURCE / "Makefile", rendered):
        target = makefile.read_text().split("\nrepro:", 1)[1].split("\n\n", 1)[0].split("\n", 1)[1]
        assert target.index("pipeline prepare") < target.index("store pull") < target.index("dvc repro"), makefile


def test_pipeline_prepare_refuses_while_dvc_works_here(built):
    rwlock = built / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(parents=True, exist_ok=True)
    rwlock.write_text("")
    # a process named dvc working here: a sleep whose argv[0] says dvc (what /proc shows)
    dvc = subprocess.Popen(["dvc", "30"], cwd=built, executable=shutil.which("sleep"))
    try:
        line = one_line_error(cli_process(built, "pipeline", "prepare"))
        assert f"pid {dvc.pid}" in line and rwlock.exists(), line
    finally:
        dvc.kill()
        dvc.wait()


@pytest.mark.slow
def test_a_table_removed_by_hand_is_rebuilt_by_make_repro(built):
    params = params_of(built)
    shutil.rmtree(built / params.embedding.uri)
    prepared = cli(built, "pipeline", "prepare")
    assert prepared.returncode == 0 and "rebuilt" in prepared.stdout, prepared.stderr
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    repro = subprocess.run([str(VENV_BIN / "dvc"), "repro"], cwd=built, capture_output=True, text=True, env=env)
    assert repro.returncode == 0, repro.stdout + repro.stderr
    assert (built / params.embedding.uri / f"{params.embedding.table}.lance").is_dir()
    report = cli(built, "verify", "--json").json()
    assert report["vectors"]["problems"] == [] and report["vectors"]["checked"] == 1, report["vectors"]


@pytest.mark.slow
def test_a_failed_stage_names_the_input_to_correct_and_verify_names_dvc_repro_not_a_pull(built, tmp_path):
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    assert cli(built, "store", "init", str(tmp_path / "store")).returncode == 0
    raw = built / "data" / "raw" / "texts.csv"
    good = raw.read_bytes()
    raw.write_bytes(good + b'x1,"an unclosed quote swallows the rows after it,sports\nx2,more,finance\n')
    failed = subprocess.run([str(VENV_BIN / "dvc"), "repro"], cwd=built, capture_output=True, text=True, env=env)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    stage_error = next(line for line in failed.stderr.splitlines() if line.startswith("error [snapshot]"))
    assert "texts.csv:" in stage_error and "quot" in stage_error and "`dvc repro`" in stage_error, stage_error
    store = cli(built, "verify", "--json").json()["store"]["problems"]
    assert store and all("store pull" not in p and p.endswith("then `dvc repro`") for p in store), store
    raw.write_bytes(good)  # correct the input, then the printed fix
    assert fix_command(store[0]) == "dvc repro"
    fixed = subprocess.run([str(VENV_BIN / "dvc"), "repro"], cwd=built, capture_output=True, text=True, env=env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert cli(built, "verify", "--json").json()["store"]["problems"] == []
