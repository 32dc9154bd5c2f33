"""`reprostack gc`: delete what plan.plan() lists, through a journal, so a kill at any point leaves a
state that the next `gc` or `verify` finishes.

The protocol of the registry's journal: (1) the intent, .git/reprostack-gc.json (the items and
the keep settings); (2) the deletions, store by store, each idempotent (a missing item is done);
directories are first renamed into a trash folder (atomic), so no half-deleted snapshot or model
directory is ever visible; (3) the intent removed last. Recovery finishes, never undoes (a
deletion cannot be undone), and re-checks reachability first: an item that something kept
needs by then (a new run re-made the same bytes) is left alone.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from reprostack.core import faults, git, jsonio
from reprostack.core.config import Params
from reprostack.core.errors import ReprostackError
from reprostack.gc import plan as planning
from reprostack.gc import roots

TRASH = ".gc-trash"


def journal_path(root: Path) -> Path:
    return git.git_dir(root) / "reprostack-gc.json"


def _rmtree(path: Path) -> None:
    subprocess.run(["chmod", "-R", "u+w", str(path)], check=False, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


def _trash(root: Path, rel: str) -> None:
    """Move a directory out of sight in one rename, then delete it."""
    source = root / rel
    bin_ = source.parent.parent / TRASH / f"{source.parent.name}-{source.name}"
    if source.exists():
        bin_.parent.mkdir(parents=True, exist_ok=True)
        if bin_.exists():
            _rmtree(bin_)
        subprocess.run(["chmod", "u+w", str(source.parent)], check=False, capture_output=True)
        source.rename(bin_)
    if bin_.exists():
        _rmtree(bin_)


def _empty_trash(root: Path, params: Params) -> None:
    for base in (root / params.paths.snapshots, root / "models"):
        if (base / TRASH).exists():
            _rmtree(base / TRASH)


def _delete(root: Path, params: Params, items: list[planning.Item]) -> dict[str, int]:
    by_store = {store: [i for i in items if i.store == store] for store in planning.STORES}
    freed = {store: 0 for store in planning.STORES}
    cache = roots.cache_dir(root)
    for item in by_store["dvc-cache"]:
        path = cache / item.key[:2] / item.key[2:]
        if path.exists():
            path.chmod(0o644)
            path.unlink()
            freed["dvc-cache"] += item.size
        faults.point("gc.during-cache")
    faults.point("gc.after-cache")
    if by_store["dvc-remote"]:
        from reprostack.store import remote

        store = remote.require(root)
        for item in by_store["dvc-remote"]:
            path = store.join("files", "md5", item.key[:2], item.key[2:])
            if store.fs.exists(path):
                store.fs.rm(path)
                freed["dvc-remote"] += item.size
    faults.point("gc.after-remote")
    if by_store["vector-tags"] or by_store["vectors"]:
        freed["vectors"] = _vectors(root, params, by_store["vector-tags"], by_store["vectors"])
    for store in ("snapshots", "models"):
        for item in by_store[store]:
            if (root / item.key).exists():
                freed[store] += item.size
            _trash(root, item.key)
            faults.point(f"gc.during-{store}")
    _empty_trash(root, params)
    return freed


def _vectors(root: Path, params: Params, tags: list[planning.Item], versions: list[planning.Item]) -> int:
    from datetime import timedelta

    from reprostack.vectors import lance_table

    emb = params.embedding
    uri = emb.uri if "://" in emb.uri or Path(emb.uri).is_absolute() else str(root / emb.uri)
    data = lance_table.dataset(uri, emb.table, None, emb.storage_options)
    present = data.tags.list()
    for item in tags:  # our own tags on versions nothing needs: LanceDB keeps tagged versions
        if item.key in present:
            data.tags.delete(item.key)
        faults.point("gc.during-tags")
    faults.point("gc.after-tags")
    wanted = [int(i.key) for i in versions]
    alive = {v["version"] for v in data.versions()}
    wanted = [v for v in wanted if v in alive]
    if not wanted:
        return 0
    # only the listed versions (never the latest, never a tagged one: LanceDB refuses those, and
    # the plan lists no tagged version); older_than=0 so that none of them is spared for its age
    stats = data.cleanup_old_versions(
        older_than=timedelta(0), versions=wanted, error_if_tagged_old_versions=False, delete_unverified=False
    )
    faults.point("gc.after-vectors")
    return int(stats.bytes_removed)


def collect(root: str | Path, params: Params, keep_runs: int = 1, keep_production: int = 3) -> dict:
    """Delete everything the plan lists; returns the plan's items and the bytes freed per store."""
    from reprostack.core import leftovers
    from reprostack.registry import catalog

    root = Path(root)
    busy = leftovers.tool_processes(root)
    if busy:  # a running `dvc repro` has written objects no dvc.lock names yet: they would look unreachable
        raise ReprostackError(
            f"a dvc, git or gto process works in this repository (pid {', '.join(map(str, busy))}); "
            "run `reprostack gc` when it has finished"
        )
    with catalog.locked(root, params.registry.lock_timeout):  # no stage change while we decide
        finish(root, params)
        found = planning.plan(root, params, keep_runs, keep_production)
        journal = {"keep_runs": keep_runs, "keep_production": keep_production}
        journal["items"] = [i.to_json() for i in found["items"]]
        jsonio.write_json(journal_path(root), journal, schema_version=1)
        faults.point("gc.after-journal")
        freed = _delete(root, params, found["items"])
        journal_path(root).unlink(missing_ok=True)
    return {**found, "freed": freed}


def finish(root: str | Path, params: Params) -> str | None:
    """Finish an interrupted gc (the caller holds the registry lock): its listed items that are
    still unreachable are deleted, the trash emptied, the intent removed. None if there was none."""
    root = Path(root)
    path = journal_path(root)
    if not path.exists():
        _empty_trash(root, params)
        return None
    try:
        journal = jsonio.read_json(path, schema_version=1, what="gc journal")
    except ReprostackError:
        path.unlink(missing_ok=True)  # torn before it was complete: nothing was deleted yet
        return "an incomplete gc journal (nothing had been deleted)"
    now = planning.plan(root, params, journal["keep_runs"], journal["keep_production"])
    still = {(i.store, i.key) for i in now["items"]}
    items = [planning.Item(**i) for i in journal["items"] if (i["store"], i["key"]) in still]
    _delete(root, params, items)
    path.unlink(missing_ok=True)
    return f"the {len(items)} items an interrupted gc listed (the gc is finished)"
