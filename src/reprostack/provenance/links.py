"""The links of the provenance chain (chain.py walks them in order). Each returns (what holds,
the digests it checked) or raises Broken naming what differs; each records in ctx.found what the
links after it build on (NEEDS says which)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from reprostack.core import git, jsonio, names
from reprostack.data.hashing import sha256_bytes, sha256_file, sha256_text
from reprostack.provenance.context import Broken, Context, Skip, lock_entries


def server(ctx: Context):
    """The bytes the running server loaded: the sha256 in its KServe v2 model metadata."""
    if ctx.url is None:
        raise Skip("no server asked (give --url to check a running `reprostack serve`)")
    address = f"{ctx.url.rstrip('/')}/v2/models/{ctx.name}"
    try:
        with urllib.request.urlopen(address, timeout=10) as response:
            meta = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise Broken(f"{address} answered {exc.code}: the server does not serve {ctx.name}") from None
    except (OSError, ValueError) as exc:
        raise Broken(f"cannot ask {address}: {getattr(exc, 'reason', exc)}") from None
    served = (meta.get("parameters") or {}).get("sha256")
    version = (meta.get("versions") or [None])[0]
    if not served or not version:
        raise Broken(f"{address} names no version and sha256 of the model it loaded")
    if ctx.version is not None and version != ctx.version:
        raise Broken(f"the server holds {ctx.name} {version}, not {ctx.version}")
    ctx.version = version
    ctx.found["served"] = served
    return f"{ctx.url} serves {ctx.name} {version}, loaded bytes sha256 {served[:12]}", {"sha256": served}


def registry(ctx: Context):
    from reprostack.registry import catalog, loader

    data = catalog.read(ctx.root, ctx.params.registry)
    entry = loader.select_entry(data, ctx.name, ctx.params.registry.production, ctx.version)
    ctx.version = entry["version"]
    sha = entry["model"]["sha256"]
    if "served" in ctx.found and ctx.found["served"] != sha:
        raise Broken(f"the server's model has sha256 {ctx.found['served'][:12]}, registry.json records {sha[:12]}")
    ctx.found["entry"] = entry
    return f"{ctx.name} {entry['version']} in {entry['stage']}, sha256 {sha[:12]}", {"sha256": sha}


def tag(ctx: Context):
    """The release tag (GTO's name@version) sits on the release commit, whose parent built the
    model, and holds the same .dvc file of the model's directory as this checkout."""
    entry = ctx.found["entry"]
    name = names.release_tag(ctx.name, entry["version"])
    release = git.rev_parse(ctx.root, f"refs/tags/{name}^{{commit}}")
    if release is None:
        raise Broken(f"release tag {name} does not exist; fetch it with `git fetch --tags`")
    parent = git.rev_parse(ctx.root, f"{release}^")
    if parent != entry["git"]["commit"]:
        raise Broken(
            f"tag {name} points at {release[:10]}, whose parent is not the commit "
            f"{entry['git']['commit'][:10]} that built the model: the tag was moved"
        )
    dvcfile = f"{Path(entry['model']['path']).parent}.dvc"
    if ctx.git_file(release, dvcfile) != (ctx.root / dvcfile).read_bytes():
        raise Broken(f"{dvcfile} differs from the one tag {name} released")
    ctx.found["commit"], ctx.found["dvcfile"] = entry["git"]["commit"], dvcfile
    return f"{name} -> release commit {release[:10]}, built at {parent[:10]}", {"gitCommit": release}


def model_files(ctx: Context):
    """The model file against the registry's sha256, every file of its directory against the
    listing DVC recorded when the release added it."""
    import yaml

    entry = ctx.found["entry"]
    path = ctx.root / entry["model"]["path"]
    if not path.exists():
        raise Broken(f"{entry['model']['path']} is missing; restore it with `reprostack store pull`")
    if sha256_file(path) != entry["model"]["sha256"]:
        raise Broken(f"{entry['model']['path']} does not match its sha256 in registry.json: it was changed")
    out = (yaml.safe_load((ctx.root / ctx.found["dvcfile"]).read_text(encoding="utf-8"))["outs"])[0]
    listing = ctx.dvc_dir(out["md5"])
    folder = path.parent
    for rel, md5 in sorted(listing.items()):
        if not (folder / rel).exists() or ctx.md5(folder / rel) != md5:
            raise Broken(f"{folder.relative_to(ctx.root) / rel} differs from the released file (DVC md5 {md5[:12]})")
    extra = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in listing)
    if extra:
        raise Broken(f"{folder.relative_to(ctx.root)} holds files the release did not: {', '.join(extra)}")
    ctx.found["model_md5"] = ctx.md5(path)
    return f"{len(listing)} files of {folder.relative_to(ctx.root)} match the release", {"dvc_md5": out["md5"]}


def run_record(ctx: Context):
    from reprostack.runs import records

    entry = ctx.found["entry"]
    record = records.load(ctx.root / ctx.params.paths.runs, entry["run_id"]).to_json()
    made = (record["outputs"].get("model") or {}).get("sha256")
    if made != entry["model"]["sha256"]:
        raise Broken(f"run {entry['run_id']} made a model with sha256 {str(made)[:12]}, not this one")
    if sha256_text(jsonio.dumps(record["params"])) != entry["params_sha256"]:
        raise Broken(f"run {entry['run_id']}'s params differ from those the release recorded")
    released = json.loads((ctx.root / Path(entry["model"]["path"]).parent / "params.json").read_text())
    released.pop("schema_version", None)
    if released != record["params"]:
        raise Broken(f"params.json of {ctx.name} {entry['version']} differs from run {entry['run_id']}'s params")
    ctx.found["record"] = record
    return f"run {entry['run_id']} made it, params sha256 {entry['params_sha256'][:12]}", {"run_id": entry["run_id"]}


def dvc_lock(ctx: Context):
    """dvc.lock at the commit that built the model: its candidate is these bytes, and its pointers
    are the files at that commit."""
    paths, commit = ctx.params.paths, ctx.found["commit"]
    text = ctx.git_file(commit, "dvc.lock")
    entries = lock_entries(text)
    candidate = entries.get(paths.candidate)
    if candidate is None:
        raise Broken(f"dvc.lock at {commit[:10]} has no output {paths.candidate}")
    listed = ctx.dvc_dir(candidate["md5"]).get(Path(ctx.found["entry"]["model"]["path"]).name)
    if listed != ctx.found["model_md5"]:
        raise Broken(f"dvc.lock at {commit[:10]} records another {paths.candidate} than the released model")
    ctx.found["lock"] = entries
    for path in (paths.snapshot_pointer, paths.vectors_pointer):
        ctx.dvc_file(path)  # the pointers as the run wrote them are still here, bytes checked
    return f"dvc.lock at {commit[:10]}: candidate and pointers match", {"sha256": sha256_bytes(text)}


def snapshot(ctx: Context):
    """The data snapshot the run read: its pointer (as dvc.lock recorded it), its files re-hashed
    against the manifest, and whether the raw files are still those bytes (not required: the raw
    data may have moved on since)."""
    from reprostack.data import refs
    from reprostack.data import snapshot as snapshots

    entry, paths = ctx.found["entry"], ctx.params.paths
    pointer = ctx.pointer_file(paths.snapshot_pointer, refs.read_snapshot_pointer)
    if pointer.digest != entry["data"]["digest"]:
        raise Broken(
            f"{paths.snapshot_pointer} names digest {pointer.digest[:12]}, the release {entry['data']['digest'][:12]}"
        )
    folder = ctx.root / paths.snapshots / pointer.dataset / pointer.version
    if not (folder / "manifest.json").exists():
        raise Broken(f"snapshot {pointer.dataset}/{pointer.version} is missing; rebuild it with `dvc repro`")
    manifest = snapshots.require_verified(folder)
    if manifest.digest != pointer.digest:
        raise Broken(f"the manifest of {pointer.dataset}/{pointer.version} has digest {manifest.digest[:12]}")
    raw = ctx.root / ctx.params.data.raw_dir
    same = all((raw / f.path).is_file() and sha256_file(raw / f.path) == f.sha256 for f in manifest.files)
    return (
        f"{pointer.dataset}/{pointer.version}: {len(manifest.files)} files re-hashed against the manifest, "
        f"digest {manifest.digest[:12]}; {ctx.params.data.raw_dir} "
        + ("holds the same files" if same else "has changed since"),
        {"sha256": manifest.digest, "raw_unchanged": same},
    )


def table(ctx: Context):
    """The table version the run's pointer names, read and its content digest recomputed."""
    from reprostack import vectors

    entry, emb = ctx.found["entry"], ctx.params.embedding
    pointer = ctx.pointer_file(ctx.params.paths.vectors_pointer, vectors.read_vectors_pointer)
    if pointer.vectors_sha256 != entry["vectors"]["sha256"]:
        raise Broken(
            f"the pointer names vectors {pointer.vectors_sha256[:12]}, the release {entry['vectors']['sha256'][:12]}"
        )
    if "://" not in pointer.uri and not Path(pointer.uri).is_absolute():
        pointer = pointer.model_copy(update={"uri": str(ctx.root / pointer.uri)})
    rows = vectors.read_rows(pointer, emb.storage_options)  # checks the version and its content digest
    ctx.found["pointer"] = pointer
    return (
        f"table {pointer.table}: {len(rows.ids)} rows, content sha256 {pointer.vectors_sha256[:12]}",
        # the local version number its tag names here (schema 3 pointers carry the tag only)
        {"sha256": pointer.vectors_sha256, "version": str(vectors.resolve_version(pointer, emb.storage_options))},
    )


def embedding_model(ctx: Context):
    from reprostack.model import embedding as emb

    recorded, pointer = ctx.found["entry"].get("embedding") or {}, ctx.found["pointer"]
    resolved = emb.resolve(recorded.get("model", pointer.model), ctx.root, revision=recorded.get("revision"))
    found = emb.fingerprint(resolved.path)
    if found != pointer.model_fingerprint or found != recorded.get("fingerprint", found):
        raise Broken(
            f"embedding model {resolved.name} has weights fingerprint {found[:12]}, the table was made with "
            f"{pointer.model_fingerprint[:12]}; install the version in requirements.lock"
        )
    if recorded.get("dimension", pointer.dimension) != pointer.dimension:
        raise Broken(f"the release expects {recorded['dimension']} dimensions, the table has {pointer.dimension}")
    return f"{resolved.name}: fingerprint {found[:12]}, {pointer.dimension} dimensions", {"sha256": found}


def environment_lock(ctx: Context):
    """requirements.lock here and at the run's commit, against the hash the run record keeps."""
    recorded = (ctx.found["record"].get("env") or {}).get("requirements_lock")
    if not recorded:
        raise Broken(f"run {ctx.found['record']['run_id']} recorded no requirements.lock hash")
    then = "sha256:" + sha256_bytes(ctx.git_file(ctx.found["commit"], "requirements.lock"))
    if then != recorded:
        raise Broken(f"requirements.lock at {ctx.found['commit'][:10]} is not the one the run recorded")
    here = ctx.root / "requirements.lock"
    now = "sha256:" + sha256_file(here) if here.exists() else None
    if now != recorded:
        raise Broken(
            f"requirements.lock here ({str(now)[7:19] or 'missing'}) differs from the run's ({recorded[7:19]}): "
            "this environment is not the one that made the model; restore it with `git checkout "
            f"{ctx.found['commit'][:10]} -- requirements.lock` and rebuild the environment"
        )
    return f"requirements.lock sha256 {recorded[7:19]} (the run's, and this checkout's)", {"sha256": recorded[7:]}


CHECKS = (
    ("server", server),
    ("registry", registry),
    ("tag", tag),
    ("model files", model_files),
    ("run record", run_record),
    ("dvc.lock", dvc_lock),
    ("snapshot", snapshot),
    ("table", table),
    ("embedding model", embedding_model),
    ("environment lock", environment_lock),
)
# what a link builds on; missing (an earlier link broken), it is reported as not checked
NEEDS = {
    "tag": ("entry",),
    "model files": ("entry", "dvcfile"),
    "run record": ("entry",),
    "dvc.lock": ("commit", "model_md5"),
    "snapshot": ("commit", "lock"),
    "table": ("commit", "lock"),
    "embedding model": ("pointer",),
    "environment lock": ("record", "commit"),
}
