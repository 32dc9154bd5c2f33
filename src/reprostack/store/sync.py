"""`reprostack store init|push|pull|status`, the release hook and the `verify` check.

Push and pull move two things through the same store: DVC's outputs (pointers, the candidate,
released models) with DVC's own push/pull, and the vector table's Lance files (store.tables).
The store is checked first, so a store that is down, refuses the credentials or lacks its bucket
fails in one line before anything is copied.
"""

from __future__ import annotations

from pathlib import Path

from reprostack.core import config, extras, faults, git
from reprostack.core.errors import ReprostackError
from reprostack.store import objects, remote, snapshots, tables


def init(root: str | Path, url: str | None = None, endpoint: str | None = None, local: bool = False) -> dict:
    """Configure the store the DVC way and create its directory or bucket.

    No URL: keep the configured store, or else a local directory outside the repository, written
    to .dvc/config.local (this machine's, not committed). A URL: `dvc remote add -d`, in the
    committed .dvc/config unless `local`, so every clone finds the team's store.
    """
    root = Path(root)
    existing = remote.find(root)
    if url is None and existing is None:
        url, local = str(remote.default_local_path(root)), True
    if url is not None:
        if url.startswith("s3://"):  # before DVC's config names a store this machine cannot open
            extras.require("s3", f"the store {url}")
        # made and checked before the config names it: a store that is down changes nothing
        probe = remote.probe(root, url, endpoint)
        remote.create(probe)
        remote.check(probe)
        _configure(root, remote.section_for(url, endpoint), local)
    store = remote.require(root)
    remote.create(store)
    remote.check(store)
    return {"name": store.name, "url": store.url, "endpoint": store.endpoint, "scope": "local" if local else "repo"}


def _configure(root: Path, section: dict, local: bool) -> None:
    """What `dvc remote add [--local] --force -d store URL` (and `modify ... endpointurl`) write,
    in one write of one file."""
    from dvc.config import Config

    with Config(dvc_dir=str(root / ".dvc")).edit("local" if local else "repo") as conf:
        conf["remote"][remote.DEFAULT_NAME] = section
        conf["core"]["remote"] = remote.DEFAULT_NAME


def _snapshots_dir(root: Path) -> Path:
    paths = config.read_params_file(root / config.PARAMS_FILE).get("paths", {})
    return root / paths.get("snapshots", "data/snapshots")


def _embedding(root: Path) -> dict:
    return config.read_params_file(root / config.PARAMS_FILE).get("embedding", {})


def _dvc_transfer(root: Path, store: remote.Store, verb: str, targets: list[str] | None) -> int | list[str]:
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            done = getattr(repo, verb)(targets=targets, remote=store.name)
    except DvcException as exc:
        raise remote.explain(store, exc.__cause__ or exc) from None
    if isinstance(done, int):  # push: the objects DVC sent
        return done
    # pull: DVC's checkout result, what it put in the workspace ({"added": [...], "modified": [...]})
    return sorted({p.rstrip("/") for p in (*(done or {}).get("added", []), *(done or {}).get("modified", []))})


def push(root: str | Path, targets: list[str] | None = None, jobs: int | None = None) -> dict:
    root = Path(root)
    store = remote.require(root)
    remote.check(store)
    result = {"store": store.describe()}
    if targets is None:  # a targeted push (a release) moves only what it names
        # the table first: the store must never hold a pointer naming a version it lacks
        result["snapshots"] = snapshots.push(_snapshots_dir(root), store)
        result["table"] = tables.push(root, store, _embedding(root), jobs)
        faults.point("store.push-dvc")
    result["dvc_files"] = _dvc_transfer(root, store, "push", targets)
    # DVC's count is what it believed the store lacked; the store's own listing is the truth
    result["repaired"] = objects.upload(root, store, objects.missing(root, store, targets))
    objects.require_complete(root, store, targets)
    if targets is None:
        result["checked_table_files"] = tables.require_complete(root, store, _embedding(root))
    return result


def pull(root: str | Path, jobs: int | None = None) -> dict:
    root = Path(root)
    store = remote.require(root)
    remote.check(store)
    # the table first: a pulled pointer must never name a version that is not here yet
    snapshot_count = snapshots.pull(_snapshots_dir(root), store)
    table = tables.pull(root, store, _embedding(root), jobs)
    restored = _dvc_transfer(root, store, "pull", None)
    return {
        "store": store.describe(),
        "snapshots": snapshot_count,
        "table": table,
        "dvc_files": len(restored),
        "restored": restored,
    }


def push_release(root: str | Path, path: str) -> dict:
    """The release hook: push the released model's files; a failure is reported, never raised,
    since the release itself (a local commit and tags) is complete either way."""
    try:
        if remote.find(root) is None:
            return {
                "pushed": False,
                "note": "no store configured; `reprostack store init`, then `reprostack store push`",
            }
        push(root, targets=[path])
    except ReprostackError as exc:
        return {"pushed": False, "note": f"{exc}; then `reprostack store push`"}
    return {"pushed": True}


def missing(root: str | Path) -> list[tuple[str, bool]]:
    """What this clone lacks that the store should provide, each with whether `dvc repro` could
    rebuild it instead: DVC outputs named by dvc.lock (yes), released models (no: only the store
    has them), and the table version the vector pointer pins (no: a rebuild makes a new one)."""
    import yaml

    root = Path(root)
    gone = []
    lock = root / "dvc.lock"
    stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {}) if lock.exists() else {}
    for stage in stages.values():
        for out in stage.get("outs", []):
            if out.get("hash") and not (root / out["path"]).exists():
                gone.append((out["path"], True))
    for dvcfile in sorted((root / "models").glob("*/*.dvc")):
        if not dvcfile.with_suffix("").exists():
            gone.append((str(dvcfile.with_suffix("").relative_to(root)), False))
    params = config.read_params_file(root / config.PARAMS_FILE)
    pointer_path = root / params.get("paths", {}).get("vectors_pointer", "data/vectors.json")
    table = tables.local_dir(root, params.get("embedding", {}))
    if pointer_path.exists() and table is not None:
        import json

        pinned = json.loads(pointer_path.read_text(encoding="utf-8"))
        version, tag = pinned.get("version"), pinned.get("tag")
        tag_file = table / "_refs" / "tags" / f"{tag}.json"
        if tag and tag_file.is_file():  # schema 3 names the version by its tag only
            version = json.loads(tag_file.read_text(encoding="utf-8")).get("version")
        if (version is None and tag) and not tag_file.is_file():
            gone.append((f"{table.relative_to(root)} tag {tag}", False))
        elif version is not None and not _has_version(table, version):
            gone.append((f"{table.relative_to(root)} version {version}", False))
    return gone


def _has_version(table: Path, version: int) -> bool:
    names = {p.name for p in (table / "_versions").glob("*.manifest")}
    # Lance's two manifest naming schemes: plain, and descending (u64 max - version, 20 digits)
    return f"{version}.manifest" in names or f"{(1 << 64) - 1 - version:020d}.manifest" in names


def check_verify(root: Path) -> dict:
    """The `verify` section: exactly what is missing here, and the one command that fetches it."""
    try:
        gone = missing(root)
    except ReprostackError as exc:
        return {"checked": 0, "problems": [str(exc)]}
    if not gone:
        return _released_on_store(root)
    # a store another clone made on this machine counts: `store pull` adopts it
    configured = remote.find(root) is not None or remote.default_local_path(root).is_dir()

    removed = _removed_by_a_failed_stage(root)

    def fix(path: str, rebuildable: bool) -> str:  # every verify finding ends in `fix: <one command>`
        if path in removed:  # the store would pull nothing: the cache has it, DVC removed it on a failure
            return (
                "DVC removes a stage's outputs when it fails; fix: correct what the stage's error named "
                "(`dvc repro` shows it again), then `dvc repro`"
            )
        if configured:
            return "fix: `reprostack store pull`"
        if rebuildable:
            return "fix: `dvc repro`"
        return (
            "it is only on a store; fix: `reprostack store init <url> && reprostack store pull`, with <url> the "
            "store your team pushes to (s3://<bucket>/<path> plus --endpoint-url <server>, or a shared directory)"
        )

    return {
        "checked": 1,
        "problems": [f"{path} is not in this clone; {fix(path, rebuildable)}" for path, rebuildable in gone],
    }


def released_targets(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in sorted((root / "models").glob("*/*.dvc"))]


def _released_on_store(root: Path) -> dict:
    """Every released model is on the configured store too: one here only is one disk from lost."""
    targets = released_targets(root)
    store = remote.find(root)
    if store is None or not targets:
        return {"checked": 1, "problems": []}
    try:
        remote.check(store)
        gone = objects.missing(root, store, targets)
    except ReprostackError as exc:
        return {"checked": 1, "problems": [], "note": f"released models not checked on the store: {exc}"}
    uncached = {out for md5, out in gone.items() if not objects.cached(root, md5)}

    def fix(out: str) -> str:
        if out not in uncached:
            return "fix: `reprostack store push`"
        if (root / out).is_dir():  # here, but DVC's cache was emptied: cache it again (verify checks it)
            # every output, not only this one: a push must hold the pipeline's outputs too
            return "this clone's DVC cache lacks it too; fix: `dvc commit --force && reprostack store push`"
        return "this clone's DVC cache lacks it too and it is not here: lost unless another clone pushes it"

    return {
        "checked": 1 + len(targets),
        "problems": [f"{out} is not on {store.describe()}; {fix(out)}" for out in sorted(set(gone.values()))],
    }


def _removed_by_a_failed_stage(root: Path) -> set[str]:
    """dvc.lock outputs missing here whose content this clone's cache holds: a clone that had them
    (a fresh clone has neither), so DVC removed them when their stage ran and failed."""
    import yaml

    lock = root / "dvc.lock"
    stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {}) if lock.exists() else {}
    cache = root / ".dvc" / "cache" / "files" / "md5"
    gone = [o for s in stages.values() for o in s.get("outs", []) if o.get("md5") and not (root / o["path"]).exists()]
    # outputs kept in git (`cache: false`), e.g. the stage stamps: git knows them, the store never has them
    tracked = set(git.call(root, "ls-files", "--", *[o["path"] for o in gone]).stdout.split()) if gone else set()
    return {o["path"] for o in gone if o["path"] in tracked or (cache / o["md5"][:2] / o["md5"][2:]).exists()}


def status(root: str | Path) -> dict:
    root = Path(root)
    store = remote.find(root)
    if store is None:
        return {"store": None, "missing_here": [path for path, _ in missing(root)]}
    remote.check(store)
    emb = _embedding(root)
    table = tables.local_dir(root, emb)
    ours = tables.local_files(table) if table is not None and table.is_dir() else {}
    theirs = tables.remote_files(store, tables.remote_dir(store, emb)) if table is not None else {}
    gone = objects.missing(root, store)
    return {
        "store": store.describe(),
        "missing_here": [path for path, _ in missing(root)],
        "snapshots_not_pushed": len(
            snapshots.local_versions(_snapshots_dir(root)).keys() - snapshots.remote_versions(store).keys()
        ),
        "objects_not_pushed": len(gone),
        "outputs_not_pushed": sorted(set(gone.values())),
        "table_files_not_pushed": len(ours.keys() - theirs.keys()),
        "table_files_not_pulled": len(theirs.keys() - ours.keys()),
    }
