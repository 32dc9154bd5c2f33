"""The registry survives `dvc exp apply`.

`dvc exp apply <exp>` lays the experiment commit's tree over the work tree and leaves HEAD where
it was. An experiment queued before a release or a promote was made from an older commit, so
the apply puts back that commit's registry.json and history, deletes the release's `.dvc` files
and the run records committed since, and reverts the store's settings in .dvc/config: the
registry's state (which lives in commits, HEAD's being the truth) looks rolled back.

DVC records the applied experiment in the ref EXEC_APPLY. After each apply, the first
`reprostack` command compares the registry's files with HEAD: a file that differs from HEAD
and equals the applied experiment's version (or is absent in both) was reverted by the apply,
and is restored from HEAD, loudly. A change of the user's own (equal to neither) is kept. Each
apply is checked once (the ref's value and time are remembered in .git).
"""

from __future__ import annotations

from pathlib import Path

from reprostack.core import git

APPLY_REF = Path("refs") / "exps" / "exec" / "EXEC_APPLY"
CHECKED = "reprostack-exp-apply-checked"


# What the registry and the store own (glob magic: `*` stays within one directory); the stage
# stamps (runs/stages/) are DVC outputs, which the apply restores on purpose.
def owned() -> tuple[str, ...]:
    from reprostack.registry import catalog, history  # only once an apply happened: commands stay fast

    return (
        str(catalog.REGISTRY_FILE),
        str(history.HISTORY_FILE),
        ":(glob)models/*/*.dvc",
        ":(glob)models/*/.gitignore",
        ":(glob)runs/*.json",
        ".dvc/config",
    )


def repair(root: str | Path = ".") -> list[str]:
    """Restore from HEAD what the last `dvc exp apply` reverted; returns the paths restored."""
    root = Path(root)
    try:
        gitdir = git.git_dir(root)
    except Exception:  # noqa: BLE001 (not a git repository: nothing to guard)
        return []
    ref = gitdir / APPLY_REF
    try:
        applied = ref.read_text(encoding="utf-8").strip()
        seen = f"{applied} {ref.stat().st_mtime_ns}"
    except OSError:
        return []
    mark = gitdir / CHECKED
    if mark.exists() and mark.read_text(encoding="utf-8") == seen:
        return []
    changed = git.call(root, "diff", "--name-only", "--no-renames", "HEAD", "--", *owned()).stdout.split("\n")
    changed = [p for p in changed if p]
    reverted = [p for p in changed if _equals_version_in(root, applied, p)]
    if reverted:
        git.run(root, "checkout", "HEAD", "--", *reverted, doing="restoring the registry's files from HEAD")
    mark.write_text(seen, encoding="utf-8")
    return reverted


def _equals_version_in(root: Path, rev: str, path: str) -> bool:
    """The work tree's `path` is the one in commit `rev` (both absent counts)."""
    blob = git.call(root, "rev-parse", "--verify", "--quiet", f"{rev}:{path}").stdout.strip()
    here = root / path
    if not here.exists():
        return not blob
    return bool(blob) and git.call(root, "hash-object", "--", path).stdout.strip() == blob
