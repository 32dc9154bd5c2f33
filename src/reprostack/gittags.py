"""Git tags in GTO's format, and commits of registry changes.

Release: `name@vX.Y.Z` (annotated) on the release commit, and `name#dev#N` for its initial
stage. Stage change: `name#stage#N` on the version's release commit, plus `name#old!#N` for
the stage it leaves, so that in GTO, as in registry.json, a version is in exactly one stage.
N counts up per model, as GTO counts.

GTO orders events by the tagger date, which git stores in whole seconds. Two stage changes in
the same second would be ambiguous to GTO (and a rollback could show the wrong production
model), so each change is dated one second after the model's newest tag when it would
otherwise tie. Under a burst of changes (the benchmark's 400 promotes) dates run ahead of the
clock by up to one second per change; at human pace they are the real time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from reprostack.errors import RegistryError

COUNTER_RE = re.compile(r"#(\d+)$")


def git(root: str | Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def check(result: subprocess.CompletedProcess, doing: str) -> str:
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise RegistryError(f"git failed while {doing}: {message[-1] if message else 'no output'}")
    return result.stdout


def tag_exists(root: str | Path, tag: str) -> bool:
    return git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}").returncode == 0


def tag_commit(root: str | Path, tag: str) -> str | None:
    result = git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}")
    return result.stdout.strip() if result.returncode == 0 else None


def model_tag_state(root: str | Path, name: str) -> tuple[int, int]:
    """(highest GTO counter, newest tagger date) over this model's tags."""
    out = check(git(root, "for-each-ref", "--format=%(refname:strip=2) %(taggerdate:unix)",
                    f"refs/tags/{name}#*", f"refs/tags/{name}@*"), "listing tags")
    counter, newest = 0, 0
    for line in out.splitlines():
        tag, _, date = line.rpartition(" ")
        match = COUNTER_RE.search(tag)
        if match and tag.startswith((f"{name}#", f"{name}@")):
            counter = max(counter, int(match.group(1)))
        if date.isdigit():
            newest = max(newest, int(date))
    return counter, newest


def stage_tags(root: str | Path, name: str, moves: list[tuple[str, str, str | None, str]], message: str) -> list[str]:
    """Tag every (version, commit, from_stage, to_stage) move; return the tag names.

    The caller holds the registry lock, so counters cannot collide between our own commands.
    """
    counter, newest = model_tag_state(root, name)
    epoch = max(int(time.time()), newest + 1)
    date = {"GIT_COMMITTER_DATE": f"@{epoch} +0000"}
    created = []
    for version, commit, from_stage, to_stage in moves:
        wanted = [f"{name}#{from_stage}!"] if from_stage is not None else []
        for base in [*wanted, f"{name}#{to_stage}"]:
            counter += 1
            tag = f"{base}#{counter}"
            check(git(root, "tag", "-a", tag, commit, "-m", f"{message} ({version})", env=date), f"creating tag {tag}")
            created.append(tag)
    return created


def commit_paths(root: str | Path, paths: list[str], message: str) -> str:
    """Commit exactly these paths (other staged or modified files are left alone)."""
    check(git(root, "add", "--", *paths), "staging the registry")
    check(git(root, "commit", "-q", "--no-verify", "-m", message, "--only", "--", *paths), "committing the registry")
    return check(git(root, "rev-parse", "HEAD"), "reading HEAD").strip()


def gto_show(root: str | Path) -> dict:
    """`gto show --json`, exactly what a user of GTO sees: {name: {stage: {stage: version}}}."""
    gto = Path(sys.executable).parent / "gto"
    command = [str(gto)] if gto.exists() else [sys.executable, "-m", "gto.cli"]
    result = subprocess.run([*command, "show", "--json"], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RegistryError(f"`gto show` failed: {(result.stderr or result.stdout).strip()[-300:]}")
    return json.loads(result.stdout or "{}")
