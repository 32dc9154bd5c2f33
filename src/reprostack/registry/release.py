"""`reprostack release`: the pipeline's candidate becomes an immutable, tagged model version.

Preconditions: a clean git tree (tracked files) and an up-to-date pipeline (`dvc status`
clean), so the release commit's parent is exactly the code, params and dvc.lock that built the
candidate. Then, under the registry lock: copy the candidate into models/<name>/<version>/ with
metrics.json, params.json, model.json and a MODEL_CARD.md; `dvc add` it (so `dvc push`/`pull`
move it and the files become read-only cache links); register it at the initial stage; commit;
tag `name@version` (annotated) and `name#<initial>#N`. Any failure undoes all of it.

Semantic versioning: major when the model's interface changes (label set, embedding model or
dimension: callers must change), minor for a retrained model with the same interface (new data,
params or code), patch for the same model file with corrected metadata. The default bump is the
smallest one the change allows; asking for a smaller one is refused.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from reprostack import config, jsonio, names, vectors
from reprostack.data import snapshot
from reprostack.data.hashing import sha256_file, sha256_text
from reprostack.errors import ReleaseError, ReprostackError
from reprostack.model import evaluation, training
from reprostack.model.encoding import LEGACY_SCHEME
from reprostack.registry import history, store, tags
from reprostack.runs import records

BUMP_ORDER = {"patch": 0, "minor": 1, "major": 2}


def require_clean_tree(root: Path) -> str:
    status = tags.git(root, "status", "--porcelain", "--untracked-files=no")
    if status.returncode != 0:
        raise ReleaseError(f"{root} is not a git repository; releases are git commits and tags")
    changed = [line[3:] for line in status.stdout.splitlines() if line.strip()]
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise ReleaseError(f"the git tree has uncommitted changes ({shown}); commit or stash them, then release")
    return tags.check(tags.git(root, "rev-parse", "HEAD"), "reading HEAD").strip()


def require_pipeline_up_to_date(root: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseError(f"`dvc status` failed: {(result.stderr or result.stdout).strip()[-300:]}")
    if result.stdout.strip() not in ("", "{}"):
        import json

        stale = ", ".join(sorted(json.loads(result.stdout)))
        raise ReleaseError(f"the pipeline is not up to date ({stale}); run `dvc repro`, commit, then release")


def candidate_provenance(root: Path, params: config.Params) -> dict:
    """Everything the registry records about the candidate, read through the validated readers."""
    cand = root / params.paths.candidate
    card = training.read_card(cand)
    actual = training.file_sha256(cand / card["file"])
    if actual != card["sha256"]:
        raise ReleaseError(f"{cand / card['file']} does not match its model.json sha256; run `dvc checkout` or `dvc repro`")
    found = [r for r in records.list_records(root / params.paths.runs)
             if r["outputs"].get("model", {}).get("sha256") == card["sha256"]]
    if not found:
        raise ReleaseError(f"no run record in {params.paths.runs}/ produced the candidate (sha256 {card['sha256'][:12]}); "
                           "run `dvc repro` and commit its record")
    record = found[-1]
    snap = snapshot.read_pointer(root / params.paths.snapshot_pointer)
    pointer = vectors.read_pointer(root / params.paths.vectors_pointer)
    tag = getattr(pointer, "tag", None)
    if tag is None:  # issue 4 adds a table tag to the pointer; read it from the file until then
        import json

        tag = json.loads((root / params.paths.vectors_pointer).read_text(encoding="utf-8")).get("tag")
    embedding = record["params"].get("embedding", {})
    return {
        "card": card,
        "metrics": evaluation.read_metrics(root / params.paths.eval),
        "params": record["params"],
        "params_sha256": sha256_text(jsonio.dumps(record["params"])),
        "run_id": record["run_id"],
        "data": {"dataset": snap.dataset, "snapshot": snap.version, "digest": snap.digest},
        "vectors": {"table": pointer.table, "version": pointer.version, "tag": tag, "sha256": pointer.vectors_sha256},
        "embedding": {"model": pointer.model, "fingerprint": pointer.model_fingerprint, "dimension": pointer.dimension,
                      "normalize": bool(embedding.get("normalize", True)),
                      "encoding": embedding.get("encoding", LEGACY_SCHEME), "revision": embedding.get("revision")},
    }


def required_bump(previous: dict | None, prov: dict) -> str:
    if previous is None:
        return "minor"
    interface_then = (previous["model"].get("classes"), previous.get("embedding", {}).get("model"),
                      previous.get("embedding", {}).get("dimension"))
    interface_now = (prov["card"].get("classes"), prov["embedding"]["model"], prov["embedding"]["dimension"])
    if interface_then != interface_now:
        return "major"
    return "minor" if previous["model"]["sha256"] != prov["card"]["sha256"] else "patch"


def choose_version(data: dict, name: str, prov: dict, version: str | None, bump: str | None) -> str:
    model = store.find_model(data, name)
    for entry in model["versions"] if model else []:
        if entry["model"]["sha256"] == prov["card"]["sha256"] and entry["params_sha256"] == prov["params_sha256"]:
            raise ReleaseError(f"the candidate is already released as {name} {entry['version']} (same model sha256 "
                               "and params); train a new one first")
    latest = store.latest_version(data, name)
    previous = next(v for v in model["versions"] if v["version"] == latest) if latest else None
    needed = required_bump(previous, prov)
    if version is None:
        if bump is not None and BUMP_ORDER[bump] < BUMP_ORDER[needed]:
            _too_small(name, bump, needed, latest)
        return names.bump(latest, bump or needed)
    names.check_version(version)
    if latest and names.version_key(version) <= names.version_key(latest):
        raise ReleaseError(f"{name} {version} is not newer than the latest release {latest}; versions only go up")
    if latest and names.version_key(version) < names.version_key(names.bump(latest, needed)):
        _too_small(name, version, needed, latest)
    return version


def _too_small(name: str, asked: str, needed: str, latest: str | None):
    raise ReleaseError(f"{asked} is too small a step from {name} {latest}: this candidate needs a {needed} bump "
                       "(see the versioning policy in the README)")


def model_card(name: str, version: str, prov: dict) -> str:
    emb, data, metrics = prov["embedding"], prov["data"], prov["metrics"]
    labels = ", ".join(prov["card"].get("classes") or [])
    return "\n".join([
        f"# {name} {version}", "",
        f"- **Inputs**: short texts, embedded with `{emb['model']}` ({emb['dimension']} dimensions, "
        f"normalised: {emb['normalize']}); weights fingerprint `{emb['fingerprint'][:16]}`.",
        f"- **Outputs**: one label of {labels}, with a probability per label.",
        f"- **Classifier**: `{prov['card'].get('classifier')}` {prov['card'].get('options')}.",
        f"- **Data snapshot**: `{data['dataset']}/{data['snapshot']}` (digest `{data['digest'][:16]}`); "
        f"vector table `{prov['vectors']['table']}` version {prov['vectors']['version']}"
        + (f" (tag `{prov['vectors']['tag']}`)" if prov["vectors"].get("tag") else "") + ".",
        "- **Metrics (held-out split)**: " + ", ".join(f"{k} {v}" for k, v in sorted(metrics.items())) + ".",
        f"- **Run**: `{prov['run_id']}` (`reprostack runs show {prov['run_id']}`).",
        "- **Intended use**: routing or tagging short texts into the labels above. Not for texts in other "
        "domains or languages than the training data, nor for decisions about people without human review.", "",
    ])


def _write_store(root: Path, params: config.Params, name: str, version: str, prov: dict) -> Path:
    dest = root / "models" / name / version
    if dest.exists():
        raise ReleaseError(f"{dest} already exists; remove it if it is left from a failed release")
    tmp = dest.parent / f".{version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:  # assembled beside its final place, renamed when complete
        shutil.copyfile(root / params.paths.candidate / prov["card"]["file"], tmp / training.MODEL_FILE)
        if sha256_file(tmp / training.MODEL_FILE) != prov["card"]["sha256"]:
            raise ReleaseError("the candidate changed while it was copied; retry")
        training.write_card(tmp, {**prov["card"], "file": training.MODEL_FILE, "name": name, "version": version})
        jsonio.write_json(tmp / "metrics.json", prov["metrics"], schema_version=1)
        jsonio.write_json(tmp / "params.json", prov["params"], schema_version=1)
        (tmp / "MODEL_CARD.md").write_text(model_card(name, version, prov), encoding="utf-8")
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
    source_commit = require_clean_tree(root)
    try:
        prov = candidate_provenance(root, params)
    except ReprostackError:
        require_pipeline_up_to_date(root)  # a stale pipeline is the better explanation, if it is one
        raise
    _plan(root, store.read(root, rules), name, prov, version, bump)  # cheap checks before `dvc status`
    require_pipeline_up_to_date(root)
    with store.locked(root, rules.lock_timeout):
        data = store.read(root, rules)  # again: another release may have landed meanwhile
        chosen = _plan(root, data, name, prov, version, bump)
        return _release_locked(root, params, data, name, chosen, prov, source_commit)


def _plan(root: Path, data: dict, name: str, prov: dict, version: str | None, bump: str | None) -> str:
    chosen = choose_version(data, name, prov, version, bump)
    tag = names.release_tag(name, chosen)
    if tags.tag_exists(root, tag):
        raise ReleaseError(f"tag {tag} already exists; choose another version (latest: "
                           f"{store.latest_version(data, name) or 'none'})")
    return chosen


def _release_locked(root, params, data, name, version, prov, source_commit) -> dict:
    rules = params.registry
    state = store.saved_state(root)
    dest, committed, created = None, False, []
    tag = names.release_tag(name, version)
    try:
        dest = _write_store(root, params, name, version, prov)
        dvc = subprocess.run([sys.executable, "-m", "dvc", "add", "-q", str(dest.relative_to(root))], cwd=root,
                             capture_output=True, text=True)
        if dvc.returncode != 0:
            raise ReleaseError(f"`dvc add {dest.relative_to(root)}` failed: {(dvc.stderr or dvc.stdout).strip()[-300:]}")
        entry = {
            "version": version, "stage": rules.initial, "created_at": history.now_utc(),
            "released_by": history.current_user(root),
            # the commit that built the candidate; the release commit (the tag's target) is its child
            "git": {"tag": tag, "commit": source_commit},
            "model": {"path": f"models/{name}/{version}/{training.MODEL_FILE}", "sha256": prov["card"]["sha256"],
                      "classifier": prov["card"].get("classifier"), "classes": prov["card"].get("classes")},
            "metrics": prov["metrics"], "params_sha256": prov["params_sha256"], "data": prov["data"],
            "vectors": prov["vectors"], "embedding": prov["embedding"], "run_id": prov["run_id"],
        }
        model = store.find_model(data, name)
        if model is None:
            model = {"name": name, "versions": []}
            data["models"].append(model)
            data["models"].sort(key=lambda m: m["name"])
        model["versions"].append(entry)
        store.write(root, data, rules)
        user = entry["released_by"]
        history.append(root, history.event("release", name, [history.change(version, None, rules.initial)],
                                           "", user, [tag]))
        paths = [str(store.REGISTRY_FILE), str(history.HISTORY_FILE), f"models/{name}/{version}.dvc",
                 f"models/{name}/.gitignore"]
        tags.commit_paths(root, paths, f"release {name} {version}\n\nmodel sha256 {entry['model']['sha256']}\n"
                                          f"metrics {prov['metrics']}\nrun {prov['run_id']}")
        committed = True
        release_commit = tags.check(tags.git(root, "rev-parse", "HEAD"), "reading HEAD").strip()
        tags.check(tags.git(root, "tag", "-a", tag, release_commit, "-m",
                                  f"{name} {version}: sha256 {entry['model']['sha256']}, metrics {prov['metrics']}"),
                      f"creating tag {tag}")
        created.append(tag)
        created += tags.stage_tags(root, name, [(version, release_commit, None, rules.initial)], f"release {name}",
                                   user)
        return {"name": name, "version": version, "stage": rules.initial, "tags": created, "commit": release_commit,
                "path": str(dest.relative_to(root)), "sha256": entry["model"]["sha256"], "metrics": prov["metrics"]}
    except BaseException:
        _undo(root, dest, state, committed, created, name, version)
        raise


def _undo(root, dest, state, committed, created, name, version) -> None:
    for tag in created:
        tags.git(root, "tag", "-d", tag)
    if committed:
        tags.git(root, "reset", "-q", "--soft", "HEAD~1")
        tags.git(root, "reset", "-q", "--", "models")
    if dest is not None and dest.exists():
        subprocess.run(["chmod", "-R", "u+w", str(dest)], check=False)
        shutil.rmtree(dest, ignore_errors=True)
    (root / "models" / name / f"{version}.dvc").unlink(missing_ok=True)
    gitignore = root / "models" / name / ".gitignore"
    if gitignore.exists():
        kept = [line for line in gitignore.read_text().splitlines() if line.strip() != f"/{version}"]
        gitignore.write_text("".join(f"{line}\n" for line in kept)) if kept else gitignore.unlink()
    store.restore_state(root, state)
