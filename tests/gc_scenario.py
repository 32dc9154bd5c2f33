"""Projects with history for the gc tests: runs that change the data (each a new snapshot, table
version and candidate), some released and promoted, all built by the real stages in process."""

from __future__ import annotations

from pathlib import Path

from factories import build_project, commit_all, pack, params_of, run_stages


def new_data_run(root: Path, run: int) -> None:
    """Five new rows in data/raw, the pipeline run and committed (a new snapshot and table version)."""
    data = params_of(root).data
    with open(root / data.raw_dir / data.file, "a", encoding="utf-8") as csv:
        for i in range(5):
            csv.write(f"gc{run}-{i},extra text number {run} {i} about finance,finance\n")
    commit_all(root, f"data for run {run}")  # committed first: the run is clean, so it can be reproduced
    run_stages(root)
    commit_all(root, f"run {run}")


def build(dest: Path, runs: int, release_every: int, promote: tuple[str, ...]) -> Path:
    """`runs` pipeline runs (the first is build_project's); a release after every
    `release_every`-th; then the versions in `promote` promoted to production, in order."""
    from reprostack.registry import promotion, release

    root = build_project(dest)
    (root / "conf" / "policy.yaml").unlink(missing_ok=True)  # the scenario is about disk, not policy
    commit_all(root, "no promotion policy")
    name = params_of(root).model_name
    for run in range(2, runs + 1):
        new_data_run(root, run)
        if run % release_every == 0:
            release.release(root, name)
    for version in promote:
        promotion.promote(root, params_of(root), name, version)
    return pack(root)
