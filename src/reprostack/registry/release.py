"""`reprostack release`: the pipeline's candidate becomes an immutable, tagged model version.

Preconditions: a clean git tree (tracked files) and an up-to-date pipeline (`dvc status`
clean), so the release commit's parent is exactly the code, params and dvc.lock that built the
candidate. Then, under the registry lock and through the journal (registry/journal.py, which
also finishes or undoes a killed earlier release): copy the candidate into
models/<name>/<version>/ with metrics.json, params.json, model.json and a MODEL_CARD.md; `dvc
add` it (so `dvc push`/`pull` move it); register it at the initial stage; commit; tag
`name@version` (annotated) and `name#<initial>#N`. Any failure undoes all of it.

The version follows the semantic-versioning policy in registry/versioning.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from reprostack import vectors
from reprostack.core import config, faults, git, jsonio, names
from reprostack.core.errors import ReleaseError, ReprostackError
from reprostack.data import cow, refs
from reprostack.data.hashing import sha256_file, sha256_text
from reprostack.model import evaluation, training
from reprostack.model.encoding import LEGACY_SCHEME
from reprostack.registry import catalog, change, history, journal, recovery, tags
from reprostack.registry.versioning import choose_version
from reprostack.runs import records


def require_clean_tree(root: Path) -> str:
    changed = git.changed_paths(root)
    if changed is None:
        if git.rev_parse(root, "HEAD") is None:
            raise ReleaseError(f"{root} is not a git repository; releases are git commits and tags")
        git.run(root, "status", "--porcelain", doing="checking the git tree", error=ReleaseError)  # git's reason
        raise ReleaseError("`git status` failed; check the repository with `git status`")
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise ReleaseError(f"the git tree has uncommitted changes ({shown}); commit or stash them, then release")
    return tags.check(tags.git(root, "rev-parse", "HEAD"), "reading HEAD").strip()


def require_pipeline_up_to_date(root: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseError(f"`dvc status` failed: {(result.stderr or result.stdout).strip()[-300:]}")
    # compose is `always_changed` (it re-checks params.yaml against conf/); that alone is not stale
    stale = ", ".join(sorted(k for k, v in json.loads(result.stdout or "{}").items() if v != ["always changed"]))
    if stale:
        raise ReleaseError(f"the pipeline is not up to date ({stale}); run `dvc repro`, commit, then release")


def candidate_provenance(root: Path, params: config.Params) -> dict:
    """Everything the registry records about the candidate, read through the validated readers."""
    cand = root / params.paths.candidate
    card = training.read_card(cand).to_json()
    actual = training.file_sha256(cand / card["file"])
    if actual != card["sha256"]:
        raise ReleaseError(
            f"{cand / card['file']} does not match its model.json sha256; run `dvc checkout` or `dvc repro`"
        )
    found = [
        r
        for r in records.list_records(root / params.paths.runs)
        if r["outputs"].get("model", {}).get("sha256") == card["sha256"]
    ]
    if not found:
        raise ReleaseError(
            f"no run record in {params.paths.runs}/ produced the candidate (sha256 {card['sha256'][:12]}); "
            "run `dvc repro` and commit its record"
        )
    record = found[-1]
    snap = refs.read_snapshot_pointer(root / params.paths.snapshot_pointer)
    pointer = vectors.read_vectors_pointer(root / params.paths.vectors_pointer)
    tag = getattr(pointer, "tag", None)
    if tag is None:  # issue 4 adds a table tag to the pointer; read it from the file until then
        tag = json.loads((root / params.paths.vectors_pointer).read_text(encoding="utf-8")).get("tag")
    embedding = record["params"].get("embedding", {})
    return {
        "card": card,
        "metrics": evaluation.read_metrics(root / params.paths.eval),
        "params": record["params"],
        "params_sha256": sha256_text(jsonio.dumps(record["params"])),
        "run_id": record["run_id"],
        "data": {"dataset": snap.dataset, "snapshot": snap.version, "digest": snap.digest},
        # the version number the run read (schema 3 pointers name the version by its tag only)
        "vectors": {
            "table": pointer.table,
            "version": (record.get("vectors") or {}).get("version", pointer.version),
            "tag": tag,
            "sha256": pointer.vectors_sha256,
        },
        "embedding": {
            "model": pointer.model,
            "fingerprint": pointer.model_fingerprint,
            "dimension": pointer.dimension,
            "normalize": bool(embedding.get("normalize", True)),
            "encoding": embedding.get("encoding", LEGACY_SCHEME),
            "backend": embedding.get("backend", "torch"),
            "revision": embedding.get("revision"),
        },
    }


def model_card(name: str, version: str, prov: dict) -> str:
    emb, data, metrics = prov["embedding"], prov["data"], prov["metrics"]
    labels = ", ".join(prov["card"].get("classes") or [])
    return "\n".join(
        [
            f"# {name} {version}",
            "",
            f"- **Inputs**: short texts, embedded with `{emb['model']}` ({emb['dimension']} dimensions, "
            f"normalised: {emb['normalize']}); weights fingerprint `{emb['fingerprint'][:16]}`.",
            f"- **Outputs**: one label of {labels}, with a probability per label.",
            f"- **Classifier**: `{prov['card'].get('classifier')}` {prov['card'].get('options')}.",
            f"- **Data snapshot**: `{data['dataset']}/{data['snapshot']}` (digest `{data['digest'][:16]}`); "
            f"vector table `{prov['vectors']['table']}` version {prov['vectors']['version']}"
            + (f" (tag `{prov['vectors']['tag']}`)" if prov["vectors"].get("tag") else "")
            + ".",
            "- **Metrics (held-out split)**: " + ", ".join(f"{k} {v}" for k, v in sorted(metrics.items())) + ".",
            f"- **Run**: `{prov['run_id']}` (`reprostack runs show {prov['run_id']}`).",
            "- **Intended use**: routing or tagging short texts into the labels above. Not for texts in other "
            "domains or languages than the training data, nor for decisions about people without human review.",
            "",
        ]
    )


def copy_model(src: Path, dest: Path) -> None:
    """The one place a model file enters the store (its own bytes, never a link to the candidate)."""
    cow.place(src, dest)


def _write_store(root: Path, params: config.Params, name: str, version: str, prov: dict, finish=None) -> Path:
    dest = root / "models" / name / version
    if dest.exists():
        raise ReleaseError(f"{dest} already exists; remove it if it is left from a failed release")
    tmp = dest.parent / f".{version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:  # assembled beside its final place, renamed when complete
        copy_model(root / params.paths.candidate / prov["card"]["file"], tmp / training.MODEL_FILE)
        if sha256_file(tmp / training.MODEL_FILE) != prov["card"]["sha256"]:
            raise ReleaseError("the candidate changed while it was copied; retry")
        training.write_card(tmp, {**prov["card"], "file": training.MODEL_FILE, "name": name, "version": version})
        jsonio.write_json(tmp / "metrics.json", prov["metrics"], schema_version=1)
        jsonio.write_json(tmp / "params.json", prov["params"], schema_version=1)
        (tmp / "MODEL_CARD.md").write_text(model_card(name, version, prov), encoding="utf-8")
        if finish is not None:
            finish(tmp)  # the release's report, made from the files just placed, before the rename
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def release(root: str | Path, name: str, version: str | None = None, bump: str | None = None) -> dict:
    root = Path(root)
    names.check_model_name(name)
    if version is not None and bump is not None:
        raise ReleaseError("give either --version or --bump, not both")
    if bump is not None and bump not in names.BUMPS:
        raise ReleaseError(f"invalid bump {bump!r}: use one of {', '.join(names.BUMPS)}")
    params = config.load_params(root / config.PARAMS_FILE)
    rules = params.registry
    with catalog.locked(root, rules.lock_timeout):  # a killed release leaves a dirty tree: finish or undo it first
        recovery.recover(root)
    source_commit = require_clean_tree(root)
    config.require_in_sync(root, ReleaseError)  # never release params that conf/ does not hold
    try:
        prov = candidate_provenance(root, params)
    except ReprostackError:
        require_pipeline_up_to_date(root)  # a stale pipeline is the better explanation, if it is one
        raise
    _plan(root, catalog.read(root, rules), name, prov, version, bump)  # cheap checks before `dvc status`
    require_pipeline_up_to_date(root)
    with catalog.locked(root, rules.lock_timeout):
        recovery.recover(root)
        data = catalog.read(root, rules)  # again: another release may have landed meanwhile
        chosen = _plan(root, data, name, prov, version, bump)
        result = _release_locked(root, params, data, name, chosen, prov, source_commit)
    from reprostack.store import sync  # outside the lock: a slow or down store never blocks the registry

    return {**result, "store": sync.push_release(root, result["path"])}


def _plan(root: Path, data: dict, name: str, prov: dict, version: str | None, bump: str | None) -> str:
    chosen = choose_version(data, name, prov, version, bump)
    tag = names.release_tag(name, chosen)
    if tags.tag_exists(root, tag):
        raise ReleaseError(
            f"tag {tag} already exists; choose another version (latest: {catalog.latest_version(data, name) or 'none'})"
        )
    return chosen


def _release_locked(root, params, data, name, version, prov, source_commit) -> dict:
    rules, tag, folder = params.registry, names.release_tag(name, version), f"models/{name}"
    entry = {
        "version": version,
        "stage": rules.initial,
        "created_at": history.now_utc(),
        "released_by": history.current_user(root),
        # the commit that built the candidate; the release commit (the tag's target) is its child
        "git": {"tag": tag, "commit": source_commit},
        "model": {
            "path": f"{folder}/{version}/{training.MODEL_FILE}",
            "sha256": prov["card"]["sha256"],
            "classifier": prov["card"].get("classifier"),
            "classes": prov["card"].get("classes"),
        },
        "metrics": prov["metrics"],
        "params_sha256": prov["params_sha256"],
        "data": prov["data"],
        "vectors": prov["vectors"],
        "embedding": prov["embedding"],
        "run_id": prov["run_id"],
    }
    model = catalog.find_model(data, name)
    if model is None:
        model = {"name": name, "versions": []}
        data["models"].append(model)
        data["models"].sort(key=lambda m: m["name"])
    model["versions"].append(entry)
    catalog.validate(data, rules, "(after this release)")
    user = entry["released_by"]
    stage_tags, epoch = tags.plan_stage_tags(root, name, [(version, "", None, rules.initial)], f"release {name}")
    planned = [
        (tag, "", f"{name} {version}: sha256 {entry['model']['sha256']}, metrics {prov['metrics']}"),
        *stage_tags,
    ]
    event = history.event(
        "release", name, [history.change(version, None, rules.initial)], "", user, [t for t, _, _ in planned]
    )
    paths = [str(catalog.REGISTRY_FILE), str(history.HISTORY_FILE), f"{folder}/{version}.dvc", f"{folder}/.gitignore"]
    record = journal.new(
        root,
        "release",
        name,
        event,
        head=source_commit,
        commit=True,
        paths=paths,
        message=f"release {name} {version}\n\nmodel sha256 {entry['model']['sha256']}\n"
        f"metrics {prov['metrics']}\nrun {prov['run_id']}",
        planned=planned,
        tagger=user,
        epoch=epoch,
        created=[f"{folder}/{version}", f"{folder}/.{version}.tmp", f"{folder}/{version}.dvc"],
        restore=[f"{folder}/.gitignore"],
    )

    def write_report(folder: Path) -> None:
        from reprostack import report

        # the report is part of the store folder (the journal's `created`) and of what `dvc add`
        # hashes; registry.json, written after prepare(), records its sha256
        entry["report"] = report.write_release_report(
            root, params, data, [*history.read(root), event], name, version, folder
        )
        faults.point("release.after-report")

    def prepare() -> None:
        dest = _write_store(root, params, name, version, prov, write_report)
        faults.point("release.after-store")
        dvc = subprocess.run(
            [sys.executable, "-m", "dvc", "add", "-q", str(dest.relative_to(root))],
            cwd=root,
            capture_output=True,
            text=True,
        )
        if dvc.returncode != 0:
            raise ReleaseError(
                f"`dvc add {dest.relative_to(root)}` failed: {(dvc.stderr or dvc.stdout).strip()[-300:]}"
            )

    release_commit = change.apply(root, record, data, prepare)
    return {
        "name": name,
        "version": version,
        "stage": rules.initial,
        "tags": [t for t, _, _ in planned],
        "commit": release_commit,
        "path": f"{folder}/{version}",
        "sha256": entry["model"]["sha256"],
        "metrics": prov["metrics"],
    }
