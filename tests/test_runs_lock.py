"""The committed dvc.lock is fresh for the committed code, data and conf/ (issue 12, item 6).

A fresh clone without a store rebuilds every output; on the same kind of machine the rebuilt
dvc.lock equals the committed one only if the committed lock was made from the committed
inputs. So this fails whenever dvc.lock is stale: some stage's deps or params changed since
`make repro` wrote it. Missing outputs are fine (a clone has none of the DVC-cached ones).
"""

import json
import subprocess

import pytest
from factories import REPO
from tools import VENV_BIN, git

# What `dvc status` says about a dependency a fresh clone simply lacks (another stage's output).
MISSING = ("deleted", "not in cache")


def committed_tree(dest):
    """HEAD's files (not the working tree's): what a clone gets."""
    dest.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "clone")
    return dest


def stale_inputs(root) -> dict[str, list[str]]:
    result = subprocess.run([str(VENV_BIN / "dvc"), "status", "--json"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    stale = {}
    for stage, changes in json.loads(result.stdout or "{}").items():
        for change in changes:
            if not isinstance(change, dict):
                continue  # "always changed" (compose), "changed command" is caught below
            for kind in ("changed deps", "changed params"):
                for path, state in (change.get(kind) or {}).items():
                    if isinstance(state, dict) or state not in MISSING:
                        stale.setdefault(stage, []).append(f"{kind[8:]} {path}: {state}")
        if "changed command" in changes:
            stale.setdefault(stage, []).append("command changed")
    return stale


def test_committed_dvc_lock_is_fresh_for_the_committed_inputs(tmp_path):
    root = committed_tree(tmp_path / "clone")
    if not (root / "dvc.lock").exists():
        pytest.skip("no dvc.lock committed yet (a new project before its first `make repro`)")
    stale = stale_inputs(root)
    assert stale == {}, (
        f"dvc.lock is stale for the committed code/conf/data: {stale}; run `make repro` and "
        "commit dvc.lock with the run record it makes"
    )


def test_the_check_catches_a_stale_lock(tmp_path):
    root = committed_tree(tmp_path / "clone")
    if not (root / "dvc.lock").exists():
        pytest.skip("no dvc.lock committed yet (a new project before its first `make repro`)")
    # an argument every shipped classifier has, so the check works in a project made with another one
    for path in [*(root / "conf" / "model").glob("*.yaml"), root / "params.yaml"]:
        text = path.read_text()
        assert "class_weight: null" in text, path
        path.write_text(text.replace("class_weight: null", "class_weight: balanced"))
    code = root / "src" / "reprostack" / "vectors" / "lance_table.py"
    code.write_text(code.read_text() + "\n# changed\n")
    stale = stale_inputs(root)
    assert any("src/reprostack/vectors: modified" in line for line in stale["embed"])
    assert any("params.yaml" in line or "model" in line for line in stale["train"])
