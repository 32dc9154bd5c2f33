"""Which commit holds a run's code: run, then commit.

DVC users edit conf/ or the code, `dvc repro`, then commit the change together with its results.
The run record names the commit the run started from (its base) and, when the tree had
uncommitted changes, each changed file's git blob id (`git hash-object`: the id the file's
contents get once committed; None for a deleted file). The run's code is then the base plus
exactly those contents: a commit after the base whose tree differs from the base in those files
only, with those blobs, holds it (normally the commit that added the record itself). The files
the pipeline writes (dvc.lock, its outputs, runs/) are left out of the comparison, as they are
of the record's dirt.

Records made before blob ids kept only a sha256 of `git diff HEAD --binary`; a commit holds their
changes when the same diff from the base to it hashes the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reprostack.core import git
from reprostack.core.errors import RunRecordError
from reprostack.data.hashing import sha256_bytes

MAX_CANDIDATES = 200  # commits after the base looked at, the record's own commit first


@dataclass(frozen=True)
class Found:
    commit: str | None  # the commit to re-run, None when no commit holds the run's code
    how: str  # "clean", "committed after the run", "not in git", "commit gone"
    missing: tuple[str, ...] = ()  # the changed files no commit holds (when commit is None)


def toplevel(root: str | Path) -> Path:
    out = git.call(root, "rev-parse", "--show-toplevel")
    return Path(out.stdout.strip()) if out.returncode == 0 else Path(root)


def blob_ids(root: str | Path, paths: list[str]) -> dict[str, str | None]:
    """path (relative to the repository's top) -> the blob id its working-tree contents would get
    (with the repository's filters, as `git add` would); None for a path that no longer exists."""
    top = toplevel(root)
    present = [p for p in paths if (top / p).is_file() or (top / p).is_symlink()]
    ids = dict.fromkeys(paths)
    if present:
        out = git.run(top, "hash-object", "--", *present, doing="hashing the changed files")
        ids.update(zip(present, out.split()))
    return ids


def _tree_blobs(top: Path, commit: str, paths: list[str]) -> dict[str, str | None]:
    """path -> blob id in commit's tree (None when absent), one `ls-tree` for all paths."""
    out = git.call(top, "ls-tree", "-z", "--full-tree", commit, "--", *paths)
    found: dict[str, str | None] = dict.fromkeys(paths)
    for entry in out.stdout.split("\0"):
        meta, _, path = entry.partition("\t")
        if path in found and meta.split()[1:2] == ["blob"]:
            found[path] = meta.split()[2]
    return found


def _spec(exclude: list[str]) -> list[str]:
    return [".", *[f":(exclude){path}" for path in exclude]]


def _differs(top: Path, base: str, commit: str, exclude: list[str]) -> set[str]:
    out = git.call(top, "diff", "--name-only", "-z", "--no-renames", base, commit, "--", *_spec(exclude))
    return set(filter(None, out.stdout.split("\0")))


def _candidates(top: Path, base: str, paths: list[str], record_path: str | None) -> list[str]:
    """Commits descending from base that touch the changed paths, oldest first; the commit that
    added the record file first of all."""
    listed = git.call(top, "rev-list", "--reverse", "--all", "--ancestry-path", f"^{base}", "--", *paths)
    commits = listed.stdout.split() if listed.returncode == 0 else []
    if record_path:
        added = git.call(top, "log", "--all", "--diff-filter=A", "--format=%H", "--", record_path)
        first = [c for c in added.stdout.split() if c in set(commits)]
        commits = first[-1:] + [c for c in commits if c not in first[-1:]]
    return commits[:MAX_CANDIDATES]


def _holds(top: Path, base: str, commit: str, code: dict, exclude: list[str]) -> bool:
    changed = list(code.get("changed") or [])
    if _differs(top, base, commit, exclude) != {p for p in changed if _in_spec(p, exclude)}:
        return False  # more (or fewer) changes than the run had
    blobs = code.get("blobs")
    if blobs is not None:
        return _tree_blobs(top, commit, list(blobs)) == blobs
    diff = git.call(top, "diff", "--binary", base, commit, "--", *_spec(exclude), text=False).stdout
    return sha256_bytes(diff) == code.get("diff_sha256")


def _in_spec(path: str, exclude: list[str]) -> bool:
    return not any(path == e or path.startswith(e.rstrip("/") + "/") for e in exclude)


def find(root: str | Path, record: dict, exclude: list[str], record_path: str | None = None) -> Found:
    """The commit that holds the run's code (see the module docstring)."""
    code = record.get("code") or {}
    base = code.get("commit")
    top = toplevel(root)
    if not base or not git.ok(top, "cat-file", "-e", f"{base}^{{commit}}"):
        return Found(None, "commit gone")
    if not code.get("dirty"):
        return Found(base, "clean")
    if not code.get("changed"):  # schema 1 records said dirty without naming the files
        return Found(None, "not in git", ("unnamed files",))
    changed = [p for p in code["changed"] if _in_spec(p, exclude)]
    if not changed:  # only files the pipeline writes itself (today's dvc.lock outs) changed
        return Found(base, "clean")
    for commit in _candidates(top, base, changed, record_path):
        if _holds(top, base, commit, code, exclude):
            return Found(commit, "committed after the run")
    blobs = code.get("blobs")
    if blobs is None:
        return Found(None, "not in git", tuple(changed))
    # name the files whose recorded contents no commit after the base holds
    held: set[str] = set()
    for commit in _candidates(top, base, changed, record_path):
        tree = _tree_blobs(top, commit, changed)
        held |= {p for p in changed if tree.get(p) == blobs.get(p)}
    return Found(None, "not in git", tuple(p for p in changed if p not in held) or tuple(changed))


def commit_to_rerun(root: Path, runs_dir: str, record: dict, allow_dirty: bool, exclude: list[str]) -> tuple[str, str]:
    """(the commit to re-run, how it was found): the run's own commit when its tree was clean, the
    commit that holds its uncommitted changes when they were committed after the run."""
    commit = record["code"].get("commit")
    if not commit:
        raise RunRecordError(f"run {record['run_id']} was not made in a git repository; there is no commit to re-run")
    if not git.ok(root, "cat-file", "-e", f"{commit}^{{commit}}"):
        raise RunRecordError(
            f"commit {commit[:12]} of run {record['run_id']} is gone from this repository (rebased, or not "
            "fetched); fetch it and retry"
        )
    found = find(root, record, exclude, record_path=f"{runs_dir}/{record['run_id']}.json")
    if found.commit is not None:
        return found.commit, found.how
    if allow_dirty:
        return commit, "its base commit, without its uncommitted changes (--allow-dirty)"
    raise RunRecordError(
        f"run {record['run_id']} was made with uncommitted changes to {', '.join(found.missing)}, and no commit "
        f"after {commit[:12]} holds exactly the contents it ran with (they never reached git); commit them as they "
        "were, or pass --allow-dirty to re-run its base commit anyway"
    )
