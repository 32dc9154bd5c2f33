"""What garbage collection must keep, and why: the roots and everything they reach.

Roots: the workspace (dvc.lock, every .dvc file, the pointers), HEAD, the commit of every git tag
(release and stage tags: every released version keeps its model, its run's outputs, table
version and snapshot), every version in a stage other than the one replaced versions go to, the
last N production holders (rollback targets), and the newest `keep_runs` run records. From each
kept commit: the outputs its dvc.lock and .dvc files name (DVC's .dir listings expanded), and the
table version and snapshot its pointers name, read through the library's own readers.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reprostack.core import git
from reprostack.core.config import Params
from reprostack.core.errors import ReprostackError


@dataclass
class Kept:
    """{key: why} per store: md5 objects, table versions, snapshot directories; and the kept commits."""

    objects: dict[str, str] = field(default_factory=dict)
    versions: dict[int, str] = field(default_factory=dict)
    snapshots: dict[str, str] = field(default_factory=dict)  # "<dataset>/<version>"
    commits: dict[str, str] = field(default_factory=dict)


def cache_dir(root: Path) -> Path:
    return root / ".dvc" / "cache" / "files" / "md5"


def dir_listing(root: Path, md5: str) -> list[str]:
    """The file md5s of a DVC directory object (empty when the listing itself is not cached)."""
    digest = md5.removesuffix(".dir")
    path = cache_dir(root) / digest[:2] / f"{digest[2:]}.dir"
    try:
        return [item["md5"] for item in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError):
        return []


def outs_of(text: str | bytes) -> list[tuple[str, str]]:
    """(path, md5) of every cached output a dvc.lock or .dvc file names."""
    data = yaml.safe_load(text) or {}
    stages = data.get("stages") or {}
    items = [o for s in stages.values() for o in (s.get("outs") or [])] + list(data.get("outs") or [])
    return [(o.get("path", ""), o["md5"]) for o in items if isinstance(o, dict) and o.get("md5")]


def uncached_paths(root: Path) -> set[str]:
    """Outputs dvc.yaml declares with `cache: false` (params.yaml, stamps, metrics): DVC never
    needs their objects to restore anything, so nothing keeps them (as `dvc gc` does)."""
    import re

    from reprostack.core import config

    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages") or {}
        values = config.read_params_file(root / config.PARAMS_FILE)
    except Exception:  # noqa: BLE001 (no pipeline: nothing to leave out)
        return set()

    def resolve(text: str) -> str:
        def lookup(match) -> str:
            found = values
            for part in match.group(1).split("."):
                found = found.get(part, {}) if isinstance(found, dict) else {}
            return str(found)

        return re.sub(r"\$\{([^}]+)\}", lookup, text)

    found = set()
    for stage in stages.values():
        for kind in ("outs", "metrics", "plots"):
            for item in stage.get(kind) or []:
                if isinstance(item, dict):
                    for path, options in item.items():
                        if isinstance(options, dict) and options.get("cache") is False:
                            found.add(resolve(path))
    return found


def _tag_commits(root: Path) -> dict[str, str]:
    out = git.call(root, "for-each-ref", "refs/tags", "--format=%(refname:strip=2) %(objectname) %(*objectname)").stdout
    found = {}
    for line in out.splitlines():
        name, obj, peeled = (line.split(" ") + ["", ""])[:3]
        found[name] = peeled or obj
    return found


def _run_commit(root: Path, runs_dir: str, run_id: str) -> str | None:
    """The commit that added a run's record: it holds that run's dvc.lock."""
    out = git.call(root, "log", "-1", "--diff-filter=A", "--format=%H", "--", f"{runs_dir}/{run_id}.json").stdout
    return out.strip() or None


def kept_commits(root: Path, params: Params, keep_runs: int, keep_production: int) -> dict[str, str]:
    from reprostack.registry import catalog, history

    commits: dict[str, str] = {}
    head = git.rev_parse(root, "HEAD")
    if head:
        commits[head] = "HEAD"
    for tag, commit in sorted(_tag_commits(root).items()):
        commits.setdefault(commit, f"git tag {tag}")
    rules = params.registry
    data = catalog.read(root, rules)
    for model in data["models"]:
        sequence = history.production_sequence(history.read(root, model["name"]), rules.production)
        holders = list(dict.fromkeys(reversed(sequence)))[:keep_production]
        for entry in model["versions"]:
            why = None
            if entry["stage"] != rules.replaced_to:
                why = f"{model['name']} {entry['version']} is in {entry['stage']}"
            elif entry["version"] in holders:
                why = f"{model['name']} {entry['version']} is one of the last {keep_production} production holders"
            if why:
                commits.setdefault(entry["git"]["commit"], why)
    runs = sorted(p.stem for p in (root / params.paths.runs).glob("*.json"))
    for run_id in runs[len(runs) - keep_runs :] if keep_runs > 0 else []:
        commit = _run_commit(root, params.paths.runs, run_id)
        if commit:
            commits.setdefault(commit, f"run {run_id} is among the newest {keep_runs}")
    return commits


def _pointer(root: Path, md5: str, workspace: Path, reader: Callable):
    """A pointer file by its md5: the cached object, or the workspace file if it is that one."""
    candidates = [cache_dir(root) / md5[:2] / md5[2:], workspace]
    for path in candidates:
        if not path.is_file():
            continue
        with tempfile.TemporaryDirectory(prefix="reprostack-gc-") as tmp:
            copy = Path(tmp) / workspace.name
            copy.write_bytes(path.read_bytes())
            try:
                found = reader(copy)
            except ReprostackError:
                continue
            if path != workspace or _md5(path) == md5:
                return found
    return None


def _pointer_version(root: Path, params: Params, pointer, tags: dict) -> int | None:
    """The table version a vector pointer names: schema 3 pointers name it by their content tag
    only (its local number differs between tables), older ones by number."""
    if pointer.version is not None:
        return pointer.version
    if "tags" not in tags:  # the table's tags, read once
        from reprostack.vectors import lance_table

        emb = params.embedding
        uri = emb.uri if "://" in emb.uri or Path(emb.uri).is_absolute() else str(root / emb.uri)
        try:
            tags["tags"] = lance_table.dataset(uri, emb.table, None, emb.storage_options).tags.list()
        except ReprostackError:
            tags["tags"] = {}
    return (tags["tags"].get(pointer.tag) or {}).get("version")


def _md5(path: Path) -> str:
    import hashlib

    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _newest_records(root: Path, runs_dir: str, count: int) -> list[dict]:
    from reprostack.runs import records

    newest = sorted(p.stem for p in (root / runs_dir).glob("*.json"))[-count:] if count > 0 else []
    found = []
    for run_id in newest:
        try:
            found.append(records.read_record(root / runs_dir, run_id))
        except ReprostackError:  # a broken record keeps nothing; verify names it
            continue
    return found


def reach(root: Path, params: Params, keep_runs: int = 1, keep_production: int = 3) -> Kept:
    from reprostack import vectors
    from reprostack.data import refs

    kept = Kept(commits=kept_commits(root, params, keep_runs, keep_production))
    paths = params.paths
    tags: dict = {}  # the table's tags, once a schema 3 pointer needs them
    sources: list[tuple[str, list[tuple[str, str]]]] = []
    if (root / "dvc.lock").exists():
        sources.append(("the workspace's dvc.lock", outs_of((root / "dvc.lock").read_text(encoding="utf-8"))))
    for dvcfile in sorted(root.glob("models/*/*.dvc")):
        sources.append(
            (f"{dvcfile.relative_to(root)} (a released model)", outs_of(dvcfile.read_text(encoding="utf-8")))
        )
    for commit, why in kept.commits.items():
        lock = git.call(root, "show", f"{commit}:dvc.lock", text=False)
        if lock.returncode == 0:
            sources.append((f"dvc.lock of {commit[:10]} ({why})", outs_of(lock.stdout)))
        names = git.call(root, "ls-tree", "-r", "--name-only", commit, "--", "models").stdout.split()
        for name in [n for n in names if n.endswith(".dvc")]:
            sources.append(
                (f"{name} at {commit[:10]} ({why})", outs_of(git.call(root, "show", f"{commit}:{name}").stdout))
            )
    uncached = uncached_paths(root)
    for why, outs in sources:
        for path, md5 in outs:
            if path in uncached:
                continue
            kept.objects.setdefault(md5, why)
            for inner in dir_listing(root, md5) if md5.endswith(".dir") else ():
                kept.objects.setdefault(inner, why)
            if path == paths.vectors_pointer:
                pointer = _pointer(root, md5, root / path, vectors.read_vectors_pointer)
                version = None if pointer is None else _pointer_version(root, params, pointer, tags)
                if version is not None:
                    kept.versions.setdefault(version, why)
            elif path == paths.snapshot_pointer:
                snap = _pointer(root, md5, root / path, refs.read_snapshot_pointer)
                if snap is not None:
                    kept.snapshots.setdefault(f"{snap.dataset}/{snap.version}", why)
    try:
        pointer = vectors.read_vectors_pointer(root / paths.vectors_pointer)
        version = _pointer_version(root, params, pointer, tags)
        if version is not None:
            kept.versions.setdefault(version, "the workspace's pointer")
    except ReprostackError:  # no pointer yet: nothing to keep for it
        pass
    try:
        snap = refs.read_snapshot_pointer(root / paths.snapshot_pointer)
        kept.snapshots.setdefault(f"{snap.dataset}/{snap.version}", "the workspace's pointer")
    except ReprostackError:
        pass
    for record in _newest_records(root, paths.runs, keep_runs):  # also those no commit holds (yet)
        why = f"run {record['run_id']} is among the newest {keep_runs}"
        if (record.get("vectors") or {}).get("version"):
            kept.versions.setdefault(int(record["vectors"]["version"]), why)
        data = record.get("data") or {}
        if data.get("dataset") and data.get("snapshot"):
            kept.snapshots.setdefault(f"{data['dataset']}/{data['snapshot']}", why)
    return kept
