"""Issue 24: one writer per table, whoever started it. `kill -9` of `dvc repro` itself (not its
process group) while embed writes, then `dvc repro` at once: the stage died with its parent, the
second run is the only writer, ids stay unique. An orphan that still runs (a stage started
outside DVC, so with no parent-death signal) makes the next writer refuse, naming its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from factories import params_of
from tools import VENV_BIN

from reprostack.core import writer
from reprostack.vectors import guard, lance_table

PAUSE = {"REPROSTACK_PAUSE_AT": "stage.embed.writing", "REPROSTACK_PAUSE_SECONDS": "60"}


def _env(**extra) -> dict:
    # SHELL=/bin/sh: DVC runs a stage as `$SHELL -c CMD` and dash does not exec CMD, so the stage's
    # parent is a shell that outlives DVC (bash would exec it: the easy case, tested below too)
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "SHELL": "/bin/sh", **extra}


def _add_rows(root: Path, n: int = 50) -> int:
    raw = root / "data" / "raw" / "texts.csv"
    text = raw.read_text(encoding="utf-8")
    extra = "".join(f"new{i:03d},an added text about markets and rates number {i},finance\n" for i in range(n))
    raw.write_text(text + extra, encoding="utf-8")
    return text.count("\n") - 1 + n


def _holder(root: Path, deadline: float = 60) -> int:
    """The pid written into the table's writer lock once a stage holds it (and is paused)."""
    params = params_of(root)
    lock = writer.lock_path(Path(root, lance_table.table_path(params.embedding.uri, params.embedding.table)))
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            pid = int(lock.read_text().split()[0])
            command = Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
            if pid != os.getpid() and _alive(pid) and "reprostack.stages.embed" in command:
                return pid
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.05)
    raise AssertionError("no embed stage took the table's writer lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state != "Z"


def _table_ids(root: Path) -> list[str]:
    params = params_of(root)
    data = lance_table.dataset(str(root / params.embedding.uri), params.embedding.table)
    return data.to_table(columns=["id"]).column("id").to_pylist()


STAGE = """
import os, sys, time
from reprostack.core import writer
writer.die_with_parent()
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(60)
"""
STARTER = "import subprocess, sys; subprocess.Popen(sys.argv[1:]).wait()"  # DVC's part: start, wait


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash"])  # dash stays as the stage's parent; bash execs
def test_a_stage_dies_with_the_process_that_started_it_through_any_shell(tmp_path, shell):
    ready = tmp_path / "pid"
    command = f"{sys.executable} -c '{STAGE}' {ready}"
    starter = subprocess.Popen([sys.executable, "-c", STARTER, shell, "-c", command], env=_env(DVC_ROOT=str(tmp_path)))
    end = time.monotonic() + 30
    while not (ready.exists() and ready.read_text()) and time.monotonic() < end:
        time.sleep(0.02)
    stage = int(ready.read_text())
    try:
        assert _alive(stage)
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait()
        end = time.monotonic() + 5
        while _alive(stage) and time.monotonic() < end:
            time.sleep(0.02)
        assert not _alive(stage), f"the stage outlived its starter under {shell}"
    finally:
        if _alive(stage):
            os.kill(stage, signal.SIGKILL)


@pytest.mark.slow
def test_kill_9_of_dvc_repro_while_embed_writes_leaves_one_writer_and_unique_ids(built):
    rows = _add_rows(built)
    first = subprocess.Popen(
        [str(VENV_BIN / "dvc"), "repro"],
        cwd=built,
        env=_env(**PAUSE),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # so the kill below reaches dvc alone, as `kill -9 <dvc pid>` does
    )
    stage = _holder(built)
    try:
        os.kill(first.pid, signal.SIGKILL)  # only the parent: the stage is not in its signal's reach
        first.wait()
        second = subprocess.run([str(VENV_BIN / "dvc"), "repro"], cwd=built, env=_env(), capture_output=True, text=True)
        assert not _alive(stage), "the embed stage outlived the `dvc repro` that started it"
    finally:
        if _alive(stage):
            os.kill(stage, signal.SIGKILL)
    assert second.returncode == 0, second.stdout + second.stderr
    ids = _table_ids(built)
    assert len(ids) == len(set(ids)) == rows


@pytest.mark.slow
def test_an_orphan_that_still_writes_makes_the_next_writer_refuse_naming_its_pid(built):
    _add_rows(built, 5)
    # Started outside DVC (no DVC_ROOT): no parent-death signal, as an orphan on a platform without one.
    orphan = subprocess.Popen(
        [sys.executable, "-m", "reprostack.stages.embed"],
        cwd=built,
        env=_env(**PAUSE),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pid = _holder(built)
        assert pid == orphan.pid
        second = subprocess.run(
            [str(VENV_BIN / "dvc"), "repro"],
            cwd=built,
            env=_env(REPROSTACK_WRITER_WAIT="0.5"),
            capture_output=True,
            text=True,
        )
        assert second.returncode != 0
        errors = [line for line in second.stderr.splitlines() if line.startswith("error [embed]")]
        assert len(errors) == 1 and f"pid {pid}" in errors[0] and f"kill {pid}" in errors[0], second.stderr
        assert "Traceback" not in second.stderr
    finally:
        orphan.kill()
        orphan.wait()
    # with the orphan gone, the lock is free at once (the kernel drops an flock with its holder)
    params = params_of(built)
    with guard.table_writer(str(built / params.embedding.uri), params.embedding.table):
        pass


def test_a_write_that_would_duplicate_an_id_is_rolled_back(tmp_path):
    import pyarrow as pa
    from factories import hash_embed, labelled_rows

    from reprostack.core.errors import VectorStoreError
    from reprostack.vectors import update

    ids, texts, labels = labelled_rows(12)
    uri = str(tmp_path / "vectors")
    update.update(uri, "t", ids, texts, labels, "m", "f", True, hash_embed, "s")
    data = lance_table.dataset(uri, "t")
    before = data.version
    # another writer's rows landing beside ours: what an orphaned stage's commit did
    data.insert(data.to_table().slice(0, 3))
    dup = lance_table.dataset(uri, "t")
    with pytest.raises(VectorStoreError, match="duplicate id"):
        guard.check_written(dup, before)
    after = lance_table.dataset(uri, "t")
    assert after.count_rows() == len(ids) and after.version > dup.version
    # a table damaged before this check (by an older version) is repaired by the next update
    lance_table.dataset(uri, "t").insert(pa.Table.from_batches(data.to_batches()).slice(0, 2))
    result = update.update(uri, "t", ids, texts, labels, "m", "f", True, hash_embed, "s")
    got = lance_table.dataset(uri, "t").to_table(columns=["id"]).column("id").to_pylist()
    assert result.deduplicated == 2 and sorted(got) == sorted(ids)


@pytest.mark.slow
def test_verify_finds_duplicate_ids_in_the_pinned_version_and_its_fix_works(built):
    """What the orphan left on main: a pinned version with duplicate ids that verify passed."""
    from factories import pointer_to
    from tools import fix_command
    from tools import run_cli as cli

    from reprostack import vectors

    params = params_of(built)
    uri, table = str(built / params.embedding.uri), params.embedding.table
    data = lance_table.dataset(uri, table)
    data.insert(data.to_table().slice(0, 5))  # a second writer's rows
    old = vectors.read_vectors_pointer(built / params.paths.vectors_pointer)
    keep = old.model_dump(include={"model", "model_fingerprint", "snapshot"})
    pinned = pointer_to(uri, table, None, **keep).model_copy(update={"uri": old.uri})
    vectors.write_vectors_pointer(built / params.paths.vectors_pointer, pinned)
    problems = cli(built, "verify", "--json").json()["vectors"]["problems"]
    assert len(problems) == 1 and "held by several rows" in problems[0], problems
    fix = fix_command(problems[0]).split()
    done = subprocess.run([str(VENV_BIN / fix[0]), *fix[1:]], cwd=built, capture_output=True, text=True, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert cli(built, "verify", "--json").json()["vectors"]["problems"] == []
    ids = _table_ids(built)
    assert len(ids) == len(set(ids))
