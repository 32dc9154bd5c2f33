"""The registry's part of `reprostack verify`: registry.json, its history log, the model files
it names and the git tags (GTO's view) agree; `restore_tags` is its part of `verify --fix`.

A check returns {"checked": n, "problems": [lines], "note"?}; each problem ends in the one
command that fixes it.
"""

from __future__ import annotations

import json
from pathlib import Path

from reprostack.core import config, names
from reprostack.core.errors import ReprostackError
from reprostack.model import training
from reprostack.registry import catalog, history, journal, reconcile, recovery, tags
from reprostack.store import restore


def check_registry(root: Path, params: config.Params) -> dict:
    """Finish or undo an interrupted registry change first (recovery.recover), then: registry.json
    is valid; the history log is whole and, replayed, gives every version's stage; every model
    file matches its sha256; GTO (what `gto show` prints, from the git tags, asked in process)
    names the same version per stage; no stage tag exists that no registry change made."""
    if not (root / catalog.REGISTRY_FILE).exists() and not (root / journal.JOURNAL_FILE).exists():
        return {"checked": 0, "problems": [], "note": f"no {catalog.REGISTRY_FILE} yet"}
    rules, notes = params.registry, []
    try:
        with catalog.locked(root, rules.lock_timeout):
            notes.append(recovery.recover(root))
        data = catalog.read(root, rules)
    except ReprostackError as exc:
        return {"checked": 1, "problems": [str(exc)]}
    known_tags = tags.list_tags(root) if (root / ".git").exists() else set()
    problems, untagged, checked = _history_problems(root, data, known_tags), [], 0
    for model in data["models"]:
        for entry in model["versions"]:
            checked += 1

            def fix(entry=entry) -> str:  # only on a finding: it may ask the store
                return restore.restore_advice(root, Path(entry["model"]["path"]).parent)

            try:
                actual = training.file_sha256(root / entry["model"]["path"])
            except ReprostackError as exc:
                problems.append(f"{model['name']} {entry['version']}: {exc}; {fix()}")
                continue
            if actual != entry["model"]["sha256"]:
                problems.append(
                    f"{entry['model']['path']}: sha256 {actual[:12]}, registry.json recorded "
                    f"{entry['model']['sha256'][:12]}; {fix()}"
                )
            problems += _params_problem(root, entry, fix)
            if names.release_tag(model["name"], entry["version"]) not in known_tags:
                untagged.append(names.release_tag(model["name"], entry["version"]))
    tagged = [
        m
        for m in data["models"]
        if any(names.release_tag(m["name"], v["version"]) in known_tags for v in m["versions"])
    ]
    if tagged:
        try:
            gto = tags.gto_show(root)
        except ReprostackError as exc:
            return {"checked": checked, "problems": problems + [str(exc)]}
        for model in tagged:
            found = _gto_disagreements(model, gto.get(model["name"], {}).get("stage") or {}, rules)
            problems += [f"{line}; fix: `{_gto_fix(problems, model['name'])}`" for line in found]
    untagged = [t for t in untagged if not any(t in p for p in problems)]  # those verify --fix cannot put back
    if untagged:
        notes.append(
            f"no release tag for {', '.join(untagged[:5])}{' and more' if len(untagged) > 5 else ''} "
            "(git fetch --tags?)"
        )
    note = "; ".join(n for n in notes if n)
    return {"checked": checked, "problems": problems, **({"note": note} if note else {})}


def _params_problem(root: Path, entry: dict, fix) -> list[str]:
    """The release's params.json holds the params registry.json recorded (params_sha256): a
    check that needs no DVC cache."""
    from reprostack.core import jsonio
    from reprostack.data.hashing import sha256_text

    path = Path(entry["model"]["path"]).parent / "params.json"
    try:
        found = json.loads((root / path).read_text(encoding="utf-8"))
        found.pop("schema_version", None)
    except (OSError, ValueError, AttributeError):
        return []  # a missing release directory is reported with the model file
    actual = sha256_text(jsonio.dumps(found))
    if actual == entry["params_sha256"]:
        return []
    return [f"{path}: params sha256 {actual[:12]}, registry.json recorded {entry['params_sha256'][:12]}; {fix()}"]


def _gto_fix(problems: list[str], name: str) -> str:
    """GTO reads the stage tags, so a disagreement comes from a tag made or lost outside the
    registry (their findings carry the fix), else from registry.json edited by hand."""
    for line in problems:
        if (f"{name}#" in line or f"{name}@" in line) and "fix: `" in line.rsplit("; ", 1)[-1]:
            return line.rsplit("`", 2)[-2]
    return f"git checkout -- {history.HISTORY_FILE} {catalog.REGISTRY_FILE}"


def _history_problems(root: Path, data: dict, known_tags: set[str]) -> list[str]:
    """The log parses, ends whole, replays to registry.json's stages, made every stage tag, and
    every stage tag it made exists."""
    try:
        entries = history.read(root)
    except ReprostackError as exc:
        return [str(exc)]
    if not entries:
        return []
    fix = f"`git checkout -- {history.HISTORY_FILE} models/registry.json` (the last committed registry)"
    replayed, problems = history.replay(entries), []
    for model in data["models"]:
        logged = replayed.get(model["name"], {})
        for entry in model["versions"]:
            if logged.get(entry["version"], entry["stage"]) != entry["stage"]:
                problems.append(
                    f"{model['name']} {entry['version']}: registry.json has {entry['stage']}, the history "
                    f"log has {logged[entry['version']]}; restore both with {fix}"
                )
        extra = sorted(set(logged) - {v["version"] for v in model["versions"]})
        if extra:
            problems.append(
                f"{model['name']}: the history log has {', '.join(extra)}, registry.json does not; "
                f"restore both with {fix}"
            )
    made = {tag for e in entries for tag in e["tags"]}
    ours = tuple(f"{m['name']}#" for m in data["models"])
    orphans = sorted(t for t in known_tags if t.startswith(ours) and t not in made) if ours else []
    if orphans:
        problems.append(
            f"stage tags no registry change made: {', '.join(orphans[:5])}"
            f"{' and more' if len(orphans) > 5 else ''}; fix: `git tag -d {' '.join(orphans)}`"
        )
    wrong = reconcile.wrong_tags(root, data, entries)
    for what, picked in (
        ("stage tags the history log made are gone", [t for t, _, a, _, _ in wrong if a is None and "#" in t]),
        ("release tags are gone", [t for t, _, a, _, _ in wrong if a is None and "#" not in t]),
        (
            "tags moved off the commit the registry made them on",
            [f"{t} (on {a[:8]}, belongs on {c[:8]})" for t, c, a, _, _ in wrong if a is not None],
        ),
    ):
        if picked:
            problems.append(
                f"{what}: {', '.join(picked[:5])}{' and more' if len(picked) > 5 else ''}; "
                "fix: `reprostack verify --fix` (puts them back)"
            )
    return problems


def _gto_disagreements(model: dict, gto_stages: dict, rules: config.RegistryParams) -> list[str]:
    """GTO shows per stage the version assigned most recently; it must be in that stage here,
    and for production (one version at most) it must be exactly the registry's."""
    problems = []
    for stage in rules.stages:
        ours = [v["version"] for v in model["versions"] if v["stage"] == stage]
        theirs = gto_stages.get(stage)
        if stage == rules.production and (ours[0] if ours else None) != theirs:
            problems.append(
                f"{model['name']}: registry.json has {ours[0] if ours else 'nothing'} in {stage}, "
                f"`gto show` has {theirs or 'nothing'}"
            )
        elif stage != rules.production and theirs and theirs not in ours:
            problems.append(f"{model['name']}: `gto show` has {theirs} in {stage}, registry.json does not")
    return problems


def restore_tags(root: Path, params: config.Params) -> list[str]:
    if not (root / catalog.REGISTRY_FILE).exists():
        return []
    try:
        with catalog.locked(root, params.registry.lock_timeout):
            recovery.recover(root)  # an interrupted change's own missing tags are its to make
            return [
                f"tag {tag} (put back)" for tag in reconcile.restore_tags(root, catalog.read(root, params.registry))
            ]
    except ReprostackError:
        return []  # a broken registry or history: check_registry reports it, with its fix
