"""`reprostack store init|push|pull|status`, the release hook and the `verify` check.

Push and pull move two things through the same store: DVC's outputs (pointers, the candidate,
released models) with DVC's own push/pull, and the vector table's Lance files (store.tables).
The store is checked first, so a store that is down, refuses the credentials or lacks its bucket
fails in one line before anything is copied.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reprostack.core import config, extras
from reprostack.core.errors import ReprostackError, StoreError
from reprostack.store import remote, tables


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
        scope = ["--local"] if local else []
        _dvc(root, "remote", "add", *scope, "--force", "-d", remote.DEFAULT_NAME, url)
        if endpoint:
            _dvc(root, "remote", "modify", *scope, remote.DEFAULT_NAME, "endpointurl", endpoint)
    store = remote.require(root)
    remote.create(store)
    remote.check(store)
    return {"name": store.name, "url": store.url, "endpoint": store.endpoint, "scope": "local" if local else "repo"}


def _dvc(root: Path, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise StoreError(f"`dvc {' '.join(args)}` failed: {(result.stderr or result.stdout).strip()[-300:]}")


def _embedding(root: Path) -> dict:
    return config.read_params_file(root / config.PARAMS_FILE).get("embedding", {})


def _dvc_transfer(root: Path, store: remote.Store, verb: str, targets: list[str] | None) -> int:
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            done = getattr(repo, verb)(targets=targets, remote=store.name)
    except DvcException as exc:
        raise remote.explain(store, exc.__cause__ or exc) from None
    return done if isinstance(done, int) else int((done or {}).get("fetched", 0))


def push(root: str | Path, targets: list[str] | None = None, jobs: int | None = None) -> dict:
    root = Path(root)
    store = remote.require(root)
    remote.check(store)
    result = {"store": store.describe()}
    if targets is None:  # a targeted push (a release) moves only what it names
        # the table first: the store must never hold a pointer naming a version it lacks
        result["table"] = tables.push(root, store, _embedding(root), jobs)
    result["dvc_files"] = _dvc_transfer(root, store, "push", targets)
    return result


def pull(root: str | Path, jobs: int | None = None) -> dict:
    root = Path(root)
    store = remote.require(root)
    remote.check(store)
    # the table first: a pulled pointer must never name a version that is not here yet
    table = tables.pull(root, store, _embedding(root), jobs)
    return {"store": store.describe(), "table": table, "dvc_files": _dvc_transfer(root, store, "pull", None)}


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
        return {"checked": 1, "problems": []}
    # a store another clone made on this machine counts: `store pull` adopts it
    configured = remote.find(root) is not None or remote.default_local_path(root).is_dir()

    def fix(rebuildable: bool) -> str:  # every verify finding ends in `fix: <one command>` (reprostack.api.verify)
        if configured:
            return "fix: `reprostack store pull`"
        if rebuildable:
            return "fix: `dvc repro`"
        return "it is only on a store; fix: `reprostack store init URL && reprostack store pull`"

    return {
        "checked": 1,
        "problems": [f"{path} is not in this clone; {fix(rebuildable)}" for path, rebuildable in gone],
    }


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
    return {
        "store": store.describe(),
        "missing_here": [path for path, _ in missing(root)],
        "table_files_not_pushed": len(ours.keys() - theirs.keys()),
        "table_files_not_pulled": len(theirs.keys() - ours.keys()),
    }
