"""What `reprostack gc` would remove, per store, each item with its size and the reason it goes:
everything present that roots.reach() does not keep.

Stores: the DVC cache, the DVC remote (the configured store, any filesystem DVC supports), the
vector table (versions no kept thing names, and our own run-/snap- tags on them: a tag LanceDB
would refuse to clean around; a tag of anyone else keeps its version), the snapshots, and the
model store (leftovers of failed releases; a released version's files are kept by its tag).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from reprostack.core.config import Params
from reprostack.gc import roots

OUR_TAGS = ("run-", "snap-")  # made by the pipeline; any other Lance tag is a user's, and kept
STORES = ("dvc-cache", "dvc-remote", "vector-tags", "vectors", "snapshots", "models")


@dataclass(frozen=True)
class Item:
    store: str
    key: str  # md5, table version, tag name, or a path relative to the project
    size: int
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.stat().st_nlink == 1)


def cache_items(root: Path, kept: roots.Kept) -> list[Item]:
    base = roots.cache_dir(root)
    items = []
    for path in sorted(base.glob("*/*")) if base.exists() else []:
        key = path.parent.name + path.name
        if path.is_file() and key not in kept.objects and not path.name.endswith(".tmp"):
            why = "no kept commit, tag, run or released model names this object"
            items.append(Item("dvc-cache", key, path.stat().st_size, why))
    return items


def remote_items(root: Path, kept: roots.Kept) -> tuple[list[Item], str | None]:
    from reprostack.core.errors import ReprostackError
    from reprostack.store import remote

    try:
        store = remote.find(root)
    except ReprostackError as exc:
        return [], f"not checked: {exc}"
    if store is None:
        return [], "no store configured"
    base = store.join("files", "md5")
    items = []
    try:
        for path in sorted(store.fs.find(base)) if store.fs.exists(base) else []:
            parts = path.rstrip("/").split("/")
            key = parts[-2] + parts[-1]
            if key not in kept.objects:
                why = f"in {store.describe()}; nothing kept names it"
                items.append(Item("dvc-remote", key, int(store.fs.size(path) or 0), why))
    except Exception as exc:  # noqa: BLE001 (a store that is down: say so, collect the rest)
        return [], f"not checked: {store.describe()} did not answer ({exc})"
    return items, None


def _version_files(data, version: int) -> set[str]:
    view = data.checkout_version(version)
    return {f.path for fragment in view.get_fragments() for f in fragment.data_files()}


def _manifests(folder: Path, version: int) -> list[Path]:
    """A version's manifest under either of Lance's naming schemes (v2 counts down from 2**64-1)."""
    return [folder / "_versions" / f"{n}.manifest" for n in (version, 2**64 - 1 - version)]


def vector_items(root: Path, params: Params, kept: roots.Kept) -> tuple[list[Item], str | None]:
    from reprostack.core.errors import ReprostackError
    from reprostack.vectors import lance_table

    emb = params.embedding
    uri = emb.uri if "://" in emb.uri or Path(emb.uri).is_absolute() else str(root / emb.uri)
    try:
        data = lance_table.dataset(uri, emb.table, None, emb.storage_options)
    except ReprostackError:
        return [], "no vector table yet"
    latest = data.latest_version
    tags = data.tags.list()
    keep = dict(kept.versions)
    for name, info in tags.items():
        if not name.startswith(OUR_TAGS):
            keep.setdefault(info["version"], f"tagged {name!r} (not a pipeline tag: yours)")
    keep.setdefault(latest, "the table's latest version")
    versions = [v["version"] for v in data.versions()]
    going = [v for v in versions if v not in keep]
    items = [
        Item("vector-tags", name, 0, f"names version {info['version']}, which nothing kept needs")
        for name, info in sorted(tags.items())
        if info["version"] in going
    ]
    kept_files = set().union(*(_version_files(data, v) for v in versions if v in keep))
    folder = Path(uri) / f"{emb.table}.lance" if "://" not in uri else None
    for version in going:
        only = _version_files(data, version) - kept_files
        files = [folder / "data" / f for f in only] + _manifests(folder, version) if folder else []
        size = sum(f.stat().st_size for f in files if f.exists())
        why = f"version {version}: nothing kept names it (its manifest, and {len(only)} data files only it uses)"
        items.append(Item("vectors", str(version), size, why))
    return items, None


def snapshot_items(root: Path, params: Params, kept: roots.Kept) -> list[Item]:
    base = root / params.paths.snapshots
    items = []
    for manifest in sorted(base.glob("*/*/manifest.json")):
        key = f"{manifest.parent.parent.name}/{manifest.parent.name}"
        if key not in kept.snapshots:
            rel = manifest.parent.relative_to(root).as_posix()
            items.append(
                Item("snapshots", rel, _size(manifest.parent), f"snapshot {key}: no kept run or version read it")
            )
    return items


def model_items(root: Path) -> list[Item]:
    """Leftovers of failed releases: temp directories, and version directories with neither a
    registry entry nor a .dvc file. Released versions are kept: their tags name them."""
    from reprostack.registry import catalog

    known = {(m["name"], v["version"]) for m in catalog.read(root)["models"] for v in m["versions"]}
    items = []
    for folder in sorted(p for p in (root / "models").glob("*/*") if p.is_dir()):
        name, version = folder.parent.name, folder.name
        rel = folder.relative_to(root).as_posix()
        if version.startswith(".") and version.endswith(".tmp"):
            items.append(Item("models", rel, _size(folder), "a failed release's temporary directory"))
        elif (
            version.startswith("v") and (name, version) not in known and not (folder.parent / f"{version}.dvc").exists()
        ):
            items.append(Item("models", rel, _size(folder), "a version directory no registry entry or .dvc file names"))
    return items


def plan(root: str | Path, params: Params, keep_runs: int = 1, keep_production: int = 3) -> dict:
    """{"items": [Item], "notes": {store: why not collected}, "kept": counts}."""
    root = Path(root)
    kept = roots.reach(root, params, keep_runs, keep_production)
    items = cache_items(root, kept)
    found, remote_note = remote_items(root, kept)
    items += found
    found, vector_note = vector_items(root, params, kept)
    items += found
    items += snapshot_items(root, params, kept) + model_items(root)
    notes = {k: v for k, v in (("dvc-remote", remote_note), ("vectors", vector_note)) if v}
    counts = {
        "commits": len(kept.commits),
        "objects": len(kept.objects),
        "table versions": len(kept.versions),
        "snapshots": len(kept.snapshots),
    }
    return {"items": items, "notes": notes, "kept": counts}
