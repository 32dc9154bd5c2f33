"""Issue 13, data side: copy-on-write, re-hash, housekeeping, resumable migrate, bad inputs.

Kills are real SIGKILLs at named points (reprostack.faults, REPROSTACK_KILL_AT). Every end
state is checked twice: by `verify` (or the module's own check) and independently (sha256 of
the outputs, the table's tags and content).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from factories import params_of, write_csv
from tools import VENV_BIN
from tools import cli_process as cli

from reprostack import housekeeping
from reprostack.data import cow, dataset, snapshot
from reprostack.errors import DataError, SnapshotError, VectorStoreError
from reprostack.vectors import migrate, search, store

TESTS = Path(__file__).parent
ROWS = [("a", "kick off at noon", "sports"), ("b", "crème brûlée tonight", "cooking")]


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error"), result.stderr
    return lines[0]


def fix_command(line: str) -> str:
    return line.rsplit("`", 2)[-2]


# ---- copy-on-write --------------------------------------------------------------------------

def test_place_copies_by_default_and_hardlinks_only_on_request(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(5000))
    how = cow.place(src, tmp_path / "a")
    assert how in ("reflink", "copy") and (tmp_path / "a").stat().st_ino != src.stat().st_ino
    assert cow.place(src, tmp_path / "b", "hardlink") == "hardlink"
    assert (tmp_path / "b").stat().st_ino == src.stat().st_ino
    with pytest.raises(ValueError):
        cow.place(src, tmp_path / "c", "symlink")


def test_writing_into_a_raw_file_in_place_never_reaches_the_snapshot(tmp_path):
    """The issue's root `cp new.csv data/raw/texts.csv`: cp writes into the existing inode."""
    raw = tmp_path / "raw"
    write_csv(raw / "texts.csv", ROWS)
    snap = snapshot.create(raw, tmp_path / "snaps", "ds")
    before = hashlib.sha256((snap.path / "texts.csv").read_bytes()).hexdigest()
    other = write_csv(tmp_path / "new.csv", ROWS + [("c", "rain", "weather")])
    subprocess.run(["cp", str(other), str(raw / "texts.csv")], check=True)
    assert snapshot.verify(snap.path) == []
    assert hashlib.sha256((snap.path / "texts.csv").read_bytes()).hexdigest() == before


@pytest.fixture
def xfs(tmp_path):
    """A small loop-mounted XFS with reflinks (skipped where mkfs.xfs or mounting is missing)."""
    if not shutil.which("mkfs.xfs") or os.geteuid() != 0:
        pytest.skip("needs mkfs.xfs (apt install xfsprogs) and root to mount a loop device")
    image, mount = tmp_path / "xfs.img", tmp_path / "xfs"
    mount.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(300 << 20)
    subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], check=True)
    if subprocess.run(["mount", "-o", "loop", str(image), str(mount)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a loop device here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_snapshot_on_a_reflink_filesystem_shares_blocks_not_the_inode(xfs):
    raw = xfs / "raw"
    raw.mkdir()
    (raw / "big.bin").write_bytes(os.urandom(40 << 20))
    write_csv(raw / "texts.csv", ROWS)
    used = shutil.disk_usage(xfs).used
    assert cow.place(raw / "big.bin", xfs / "clone.bin") == "reflink"
    snap = snapshot.create(raw, xfs / "snaps", "ds")
    assert (snap.path / "big.bin").stat().st_ino != (raw / "big.bin").stat().st_ino
    assert shutil.disk_usage(xfs).used - used < 8 << 20  # two 40 MB clones cost (almost) nothing
    with open(raw / "big.bin", "r+b") as handle:  # a write into the source: copy-on-write
        handle.write(b"x" * 4096)
    assert snapshot.verify(snap.path) == []


# ---- re-hash before trusting an existing snapshot -------------------------------------------

def test_damaged_snapshot_is_an_error_naming_the_file_and_the_printed_repair_fixes_it(project):
    data = params_of(project).data
    assert cli(project, "snapshot", "create").returncode == 0
    version_dir = next((project / "data" / "snapshots" / data.name).iterdir())
    target = version_dir / data.file
    target.chmod(0o644)
    with open(target, "a") as handle:
        handle.write("z,tampered,sports\n")
    line = one_line_error(cli(project, "snapshot", "create"))
    assert data.file in line and "--repair" in line
    assert cli(project, *shlex.split(fix_command(line))[1:]).returncode == 0
    assert cli(project, "snapshot", "verify", version_dir.name).returncode == 0
    assert not list(version_dir.parent.glob(".tmp-*"))


# ---- housekeeping -----------------------------------------------------------------------------

def test_killed_snapshot_leaves_a_staging_dir_that_the_next_run_removes(tmp_path):
    raw = tmp_path / "raw"
    write_csv(raw / "texts.csv", ROWS)
    script = f"from reprostack.data import snapshot; snapshot.create({str(raw)!r}, {str(tmp_path / 's')!r}, 'ds')"
    child = subprocess.run([sys.executable, "-c", script], env={**os.environ, "REPROSTACK_KILL_AT": "snapshot.before-rename"})
    assert child.returncode == -9
    assert len(list((tmp_path / "s" / "ds").glob(".tmp-*"))) == 1
    snap = snapshot.create(raw, tmp_path / "s", "ds")
    assert [p.name for p in (tmp_path / "s" / "ds").iterdir()] == [snap.version]
    assert snapshot.verify(snap.path) == []


def test_live_staging_dirs_are_left_alone(tmp_path):
    mine = tmp_path / f"{housekeeping.staging_prefix()}x"
    mine.mkdir()
    dead = tmp_path / ".tmp-999999999-x"
    dead.mkdir()
    assert housekeeping.dead_staging(tmp_path) == [dead]


def test_verify_reports_leftovers_and_fix_removes_them(project):
    assert cli(project, "snapshot", "create").returncode == 0
    leftovers = [project / "data" / ".snapshot.json.abc123.tmp", project / "runs" / "stages" / ".train.json.x.tmp",
                 project / "data" / "vectors" / "texts.lance" / "data" / ".tmp_part_1"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("partial")
    staging = project / "data" / "snapshots" / params_of(project).data.name / ".tmp-999999999-abc"
    (staging / "sub").mkdir(parents=True)
    report = json.loads(cli(project, "verify", "--json").stdout)
    found = report["leftovers"]["problems"]
    assert len(found) == 4 and all("reprostack verify --fix" in p for p in found)
    fixed = json.loads(cli(project, "verify", "--fix", "--json").stdout)
    assert len(fixed["removed"]) == 4 and fixed["leftovers"]["problems"] == []
    assert not any(p.exists() for p in [*leftovers, staging])


# ---- resumable migrate ------------------------------------------------------------------------

MIGRATE_POINTS = ["migrate.after-pre-tag", "migrate.after-add-column", "migrate.after-batch",
                  "migrate.after-switch", "migrate.after-tag"]


def _migrate_child(uri: str, reports: str) -> str:
    return textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from test_vectors_migrate import _table_of, wide
        from reprostack.vectors import migrate
        ids, texts, labels, vecs = _table_of(60)
        migrate.migrate({uri!r}, "t", "wide", "w", True, wide(dict(zip(texts, vecs))), batch_size=20, k=5,
                        report_dir={reports!r})
    """)


@pytest.mark.parametrize("point", MIGRATE_POINTS)
def test_migrate_killed_at_each_point_completes_on_rerun(tmp_path, point):
    from test_vectors_migrate import _labelled, _table_of, wide

    uri, reports = str(tmp_path / "db"), tmp_path / "migrations"
    _labelled(uri)
    child = subprocess.run([sys.executable, "-c", _migrate_child(uri, str(reports))],
                           env={**os.environ, "REPROSTACK_KILL_AT": point})
    assert child.returncode == -9
    ids, texts, labels, vecs = _table_of(60)
    encoder = wide(dict(zip(texts, vecs)))
    report = migrate.migrate(uri, "t", "wide", "w", True, encoder, batch_size=20, k=5, report_dir=reports)
    data = store.dataset(uri, "t")
    tags = sorted(data.tags.list())
    assert [t for t in tags if "migrat" in t] == ["migrated-vector_wide-1", "pre-migrate-vector_wide-1"]
    assert store.read_meta(data)["active_column"] == "vector_wide" and report["from_column"] == "vector"
    assert json.loads((reports / "migrated-vector_wide-1.json").read_text())["migrated_tag"] == "migrated-vector_wide-1"
    # independent: the new column holds exactly the encoder's vectors, every row
    table = data.to_table(columns=["text", "vector_wide"])
    stored = np.stack(table.column("vector_wide").to_pylist()).astype(np.float32)
    np.testing.assert_array_equal(stored, encoder(table.column("text").to_pylist()))
    with pytest.raises(VectorStoreError, match="nothing to migrate"):
        migrate.migrate(uri, "t", "wide", "w", True, encoder, report_dir=reports)


# ---- bad inputs: one line, non-zero exit, nothing changed -------------------------------------

def test_a_1_mb_text_reads_and_a_17_mb_one_is_one_line(tmp_path):
    path = write_csv(tmp_path / "t.csv", [("a", "w " * 500_000, "x"), ("b", "short", "y")])
    assert len(dataset.read_text_table(path, "id", "text", "label").texts[0]) > 900_000
    write_csv(path, [("a", "w" * (17 << 20), "x"), ("b", "short", "y")])
    with pytest.raises(DataError, match=r"t.csv:\d+: field larger than field limit"):
        dataset.read_text_table(path, "id", "text", "label")


def test_thin_labels_are_named():
    assert dataset.thin_labels(["a"] * 10 + ["b"], 0.2) == {"b": 1}
    assert dataset.thin_labels(["a"] * 10 + ["b"] * 5, 0.2) == {}


def test_snapshot_stage_warns_on_a_label_too_thin_for_the_split(project):
    data = params_of(project).data
    rows = [(str(i), f"text {i}", "big") for i in range(20)] + [("z", "lonely", "rare")]
    write_csv(project / data.raw_dir / data.file, rows, header=(data.id_column, data.text_column, data.label_column))
    result = subprocess.run([sys.executable, "-m", "reprostack.stages.snapshot"], cwd=project, capture_output=True,
                            text=True)
    assert result.returncode == 0 and "label 'rare' has only 1 example" in result.stderr


def test_where_takes_one_expression(tmp_path):
    from test_vectors import put

    put(tmp_path / "db")
    table = store.open_table(store.connect(str(tmp_path / "db")), "t")
    before = table.version
    with pytest.raises(VectorStoreError, match="more than one statement"):
        search.check_where(table, "label = 'x'; DROP TABLE texts")
    search.check_where(table, "label = 'a;b'")  # a ';' inside a string literal is data
    assert table.version == before and table.count_rows() == 3


def test_a_closed_pipe_is_a_quiet_exit(project):
    assert cli(project, "snapshot", "create").returncode == 0
    child = subprocess.Popen([str(VENV_BIN / "reprostack"), "snapshot", "list"], cwd=project,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # `| head` that has read enough
    _, err = child.communicate()
    assert child.returncode == 141 and b"Traceback" not in err and err == b""


def test_history_of_an_unknown_model_is_an_error(project):
    line = one_line_error(cli(project, "registry", "history", "nope"))
    assert "no model 'nope'" in line


def test_snapshot_create_with_bad_input_changes_nothing(project):
    before = sorted(p.name for p in (project / "data").rglob("*"))
    one_line_error(cli(project, "snapshot", "create", "--dataset", "../x"))
    one_line_error(cli(project, "snapshot", "create", "--source", "nowhere"))
    assert sorted(p.name for p in (project / "data").rglob("*")) == before


def test_repair_refuses_nothing_when_the_snapshot_is_fine(tmp_path):
    raw = tmp_path / "raw"
    write_csv(raw / "texts.csv", ROWS)
    first = snapshot.create(raw, tmp_path / "s", "ds")
    assert snapshot.create(raw, tmp_path / "s", "ds", repair=True) == first
    (first.path / "texts.csv").chmod(0o644)
    (first.path / "texts.csv").write_text("id,text,label\n")
    with pytest.raises(SnapshotError, match="is damaged"):
        snapshot.create(raw, tmp_path / "s", "ds")


# ---- the real pipeline: kill -9 in each stage, and every corruption verify must catch ----------

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
    from factories import copy_project

    root = copy_project(tmp_path_factory.mktemp("faults") / "project")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "DVC_NO_ANALYTICS": "1"}
    subprocess.run([str(VENV_BIN / "dvc"), "repro"], cwd=root, check=True, capture_output=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "built"], cwd=root, check=True, env={**env, "GIT_AUTHOR_NAME": "t",
                   "GIT_AUTHOR_EMAIL": "t@x.invalid", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x.invalid"})
    outputs = {p: sha256(root / p) for p in ("models/candidate/model.pkl", "eval/metrics.json", "data/vectors.json",
                                             "data/snapshot.json")}
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
    assert len(after) == before + 1 and all(r["stages"] for r in after[before:])


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
    again = dvc(root, "repro").stdout  # compose always runs (it checks params.yaml); nothing else may
    assert re.findall(r"Running stage '(\w+)'", again) == ["compose"]


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
    assert re.findall(r"Running stage '(\w+)'", dvc(root, "repro").stdout) == ["compose"]


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
    assert after[-1]["outputs"]["model"]["sha256"] == json.loads((root / "models/candidate/model.json").read_text())["sha256"]
    assert failing(verify(root)) == {}
    assert {p: sha256(root / p) for p in outputs} == outputs
    assert re.findall(r"Running stage '(\w+)'", dvc(root, "repro").stdout) == ["compose"]


def _corrupt_and_fix(root: Path, corrupt, section: str, expect: str) -> None:
    corrupt(root)
    problems = failing(verify(root))
    assert section in problems and expect in problems[section][0], problems
    # a corruption may show in more than one check (a forged metrics.json also disagrees with its
    # run record); each finding names a fix, and the first one must fix them all
    assert all("fix: `" in line for lines in problems.values() for line in lines), problems
    command = fix_command(problems[section][0])
    fixed = subprocess.run(command, shell=True, cwd=root, capture_output=True, text=True,
                           env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"})
    assert fixed.returncode == 0, fixed.stderr
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
@pytest.mark.parametrize("corrupt, section, expect", [
    (_forge_metrics, "metrics", "does not match its model"),
    (_truncate_record, "runs", "is not valid JSON"),
    (_tamper_model, "models", "model.pkl: sha256"),
    (_tamper_snapshot, "snapshots", "changed: texts.csv"),
    (_drop_fragment, "vectors", "data file(s) missing"),
    (_drop_manifest, "vectors", "manifest"),
], ids=["forged-metrics", "truncated-record", "tampered-model", "tampered-snapshot", "missing-fragment",
        "deleted-manifest"])
def test_verify_detects_each_corruption_and_its_fix_works(pipeline, corrupt, section, expect):
    root, outputs = pipeline
    _corrupt_and_fix(root, corrupt, section, expect)
    assert sha256(root / "models" / "candidate" / "model.pkl") == outputs["models/candidate/model.pkl"]
