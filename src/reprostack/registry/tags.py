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
import re
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from reprostack import git
from reprostack.errors import RegistryError

COUNTER_RE = re.compile(r"#(\d+)$")
_run = partial(git.run, error=RegistryError)  # git failures here are registry failures


def tag_exists(root: str | Path, tag: str) -> bool:
    return git.rev_parse(root, f"refs/tags/{tag}") is not None


def list_tags(root: str | Path) -> set[str]:
    return set(_run(root, "for-each-ref", "--format=%(refname:strip=2)", "refs/tags", doing="listing tags").split())


def tag_commits_and_parents(root: str | Path, tags: list[str]) -> dict[str, tuple[str, str] | None]:
    """{tag: (commit it points at, that commit's first parent)} in one git call; None if the tag
    (or the parent) does not exist."""
    specs = [spec for tag in tags for spec in (f"refs/tags/{tag}^{{commit}}", f"refs/tags/{tag}^{{commit}}^1")]
    result = git.call(root, "rev-parse", *specs)
    if result.returncode == 0:
        lines = result.stdout.split()
        return {tag: (lines[2 * i], lines[2 * i + 1]) for i, tag in enumerate(tags)}
    out = {}
    for tag in tags:  # something is missing: find out what, one tag at a time
        one = git.call(root, "rev-parse", f"refs/tags/{tag}^{{commit}}", f"refs/tags/{tag}^{{commit}}^1")
        out[tag] = tuple(one.stdout.split()) if one.returncode == 0 else None
    return out


def model_tag_state(root: str | Path, name: str) -> tuple[int, int]:
    """(highest GTO counter, date of that newest tag) over this model's tags.

    Names only, then one tag's date: reading every tag object (thousands) would dominate a
    promote. Counters only grow, so the highest-numbered tag is the newest one.
    """
    out = _run(root, "for-each-ref", "--format=%(refname:strip=2)", f"refs/tags/{name}#*", doing="listing tags")
    counter, newest_tag = 0, None
    for tag in out.split():
        match = COUNTER_RE.search(tag)
        if match and int(match.group(1)) > counter:
            counter, newest_tag = int(match.group(1)), tag
    if newest_tag is None:
        return 0, 0
    date = _run(root, "for-each-ref", "--format=%(taggerdate:unix)", f"refs/tags/{newest_tag}", doing="reading a tag")
    return counter, int(date.strip() or 0)


def stage_tags(root: str | Path, name: str, moves: list[tuple[str, str, str | None, str]], message: str,
               ident: str) -> list[str]:
    """Tag every (version, commit, from_stage, to_stage) move; return the tag names.

    The caller holds the registry lock, so counters cannot collide between our own commands.
    All tags are created by two git processes whatever their number (hash-object for the tag
    objects, one atomic update-ref transaction for the refs): promote latency is mostly
    process starts.
    """
    counter, newest = model_tag_state(root, name)
    ident = ident if "<" in ident else f"{ident} <{ident}@localhost>"  # a tagger needs an email part
    epoch = max(int(time.time()), newest + 1)
    planned = []
    for version, commit, from_stage, to_stage in moves:
        for base in ([f"{name}#{from_stage}!"] if from_stage is not None else []) + [f"{name}#{to_stage}"]:
            counter += 1
            planned.append((f"{base}#{counter}", commit, f"{message} ({version})"))
    create_tags(root, planned, ident, epoch)
    return [tag for tag, _, _ in planned]


def create_tags(root: str | Path, planned: list[tuple[str, str, str]], ident: str, epoch: int) -> None:
    """Annotated tags (name, commit, message), all dated `epoch`, created atomically."""
    import tempfile

    if not planned:
        return
    with tempfile.TemporaryDirectory(prefix="reprostack-tags-") as tmp:
        paths = []
        for i, (tag, commit, message) in enumerate(planned):
            path = Path(tmp) / str(i)
            path.write_text(f"object {commit}\ntype commit\ntag {tag}\ntagger {ident} {epoch} +0000\n\n{message}\n",
                            encoding="utf-8")
            paths.append(str(path))
        shas = _run(root, "hash-object", "-t", "tag", "-w", "--stdin-paths", input="\n".join(paths) + "\n",
                   doing="writing tag objects").split()
    updates = "".join(f"create refs/tags/{tag} {sha}\n" for (tag, _, _), sha in zip(planned, shas))
    _run(root, "update-ref", "--stdin", input=updates, doing=f"creating tags {', '.join(tag for tag, _, _ in planned)}")


def commit_paths(root: str | Path, paths: list[str], message: str) -> None:
    """Commit exactly these paths (other staged or modified files are left alone)."""
    _run(root, "add", "--", *paths, doing="staging the registry")
    _run(root, "commit", "-q", "--no-verify", "-m", message, "--only", "--", *paths, doing="committing the registry")


def gto_show(root: str | Path) -> dict:
    """`gto show --json`, exactly what a user of GTO sees: {name: {stage: {stage: version}}}."""
    gto = Path(sys.executable).parent / "gto"
    command = [str(gto)] if gto.exists() else [sys.executable, "-m", "gto.cli"]
    result = subprocess.run([*command, "show", "--json"], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RegistryError(f"`gto show` failed: {(result.stderr or result.stdout).strip()[-300:]}")
    return json.loads(result.stdout or "{}")
