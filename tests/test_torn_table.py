"""A truncated Lance data file: every command that reads it says so in one line (no Rust IO
traceback), verify names the file, and the fix it prints works: copied back from the store when
the store holds it; otherwise the torn fragments are dropped in a new version (the table's other
versions and tags kept) and the pipeline re-embeds their rows."""

import json
import os

import lance
import pytest
import tools
from tools import cli_process, git, run_cli, verify_problems

from reprostack.vectors import lance_table


def pinned(root):
    ptr = json.loads((root / "data" / "vectors.json").read_text())
    table_dir = root / ptr["uri"] / f"{ptr['table']}.lance"
    return ptr, table_dir


def tear(root):
    """Truncate the biggest data file of the pinned version to half its size; its relative path."""
    ptr, table_dir = pinned(root)
    data = lance_table.dataset(str(root / ptr["uri"]), ptr["table"], ptr.get("version") or ptr["tag"])
    files = [table_dir / "data" / f.path for fr in data.get_fragments() for f in fr.data_files()]
    victim = max(files, key=lambda p: p.stat().st_size)
    os.truncate(victim, victim.stat().st_size // 2)
    return victim.relative_to(table_dir).as_posix()


def failing(root):
    return verify_problems(root)


def run_fix(root, line):
    return tools.run_fix(root, line.split("fix: `", 1)[1].split("`", 1)[0])


def test_a_torn_file_is_one_line_and_copied_back_from_the_store(built, tmp_path):
    assert run_cli(built, "store", "init", str(tmp_path / "store")).returncode == 0
    git(built, "commit", "-qm", "store", ".dvc/config")
    assert run_cli(built, "store", "push").returncode == 0
    rel = tear(built)
    ptr, table_dir = pinned(built)
    searched = cli_process(built, "vectors", "search", "some text")
    assert searched.returncode == 1 and "Traceback" not in searched.stderr, searched.stderr
    errors = [ln for ln in searched.stderr.splitlines() if ln.startswith("error")]
    assert errors == searched.stderr.splitlines()[-1:] and "reprostack verify" in errors[0]
    line = next(p for p in failing(built)["vectors"] if "is torn" in p)
    assert rel in line and "the table recorded" in line
    assert run_fix(built, line) == "reprostack vectors repair"
    assert failing(built) == {}
    assert cli_process(built, "vectors", "search", "some text").returncode == 0


@pytest.mark.slow  # the printed fix ends in `dvc repro`
def test_a_torn_file_with_no_copy_is_dropped_keeping_the_tables_history(built):
    ptr, table_dir = pinned(built)
    before = lance.dataset(str(table_dir))
    tags, versions = set(before.tags.list()), before.version
    tear(built)
    line = next(p for p in failing(built)["vectors"] if "is torn" in p)
    assert "no store holds them" in line
    assert run_fix(built, line).startswith("reprostack vectors repair && dvc repro")
    assert failing(built) == {}
    after = lance.dataset(str(table_dir))
    assert tags <= set(after.tags.list()) and after.version > versions + 1  # kept, and a version per step
    assert json.loads((built / "data" / "vectors.json").read_text())["rows"] == ptr["rows"]  # rows re-embedded


@pytest.mark.slow  # the printed fix is `dvc repro --force`
def test_a_file_corrupt_in_place_is_one_line_and_its_fix_works(built):
    ptr, table_dir = pinned(built)
    data = lance_table.dataset(str(built / ptr["uri"]), ptr["table"], ptr.get("version") or ptr["tag"])
    victim = max(
        (table_dir / "data" / f.path for fr in data.get_fragments() for f in fr.data_files()),
        key=lambda p: p.stat().st_size,
    )
    raw = bytearray(victim.read_bytes())
    raw[: len(raw) // 2] = bytes(len(raw) // 2)  # same size, zeroed: only reading it finds it
    victim.write_bytes(bytes(raw))
    line = next(p for p in failing(built)["vectors"] if "cannot be read" in p)
    assert "Traceback" not in line and "corrupt in place" in line
    run_fix(built, line)
    assert failing(built) == {}


def test_lance_io_errors_become_one_line_and_other_arrow_errors_do_not():
    import pyarrow as pa

    from reprostack.core.errors import lance_io

    torn = OSError("LanceError(IO): Generic LocalFileSystem error: failed to fill whole buffer, /rustc/48a2/f.rs:250:5")
    line = str(lance_io(torn))
    assert line.startswith("the vector table cannot be read (LanceError(IO)") and "/rustc/" not in line
    assert "\n" not in line and line.endswith("names the damaged file and the command that repairs it")
    assert lance_io(pa.lib.ArrowInvalid("CSV parse error: Expected 3 columns, got 4")) is None
    assert lance_io(ValueError("something else")) is None
