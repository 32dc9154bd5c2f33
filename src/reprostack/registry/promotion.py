"""Stage changes with rules: promote, demote, rollback.

Versions entering a stage in registry.released_only (staging, production) must carry their
release tag; a version whose tag is gone (a shallow clone, a deleted tag) can still be moved
elsewhere (archived), without GTO tags, since GTO could not place them.

Every change happens under the registry lock: finish or undo an interrupted earlier change
(recovery.recover), check the rules, verify the model (sha256) and its data snapshot, then apply
the change through the journal (registry.json, history line, commit, GTO tags). If any step
fails the change is undone, so a failed command leaves the registry as it was; if the process
is killed, the next registry command completes or undoes it.
"""

from __future__ import annotations

from pathlib import Path

from reprostack.core import names
from reprostack.core.config import Params, RegistryParams
from reprostack.core.errors import IntegrityError, RegistryError, SnapshotError
from reprostack.data import hashing, snapshot
from reprostack.registry import catalog, change, history, journal, recovery, tags


def verify_version(root: Path, entry: dict, snapshots_root: str) -> None:
    """The model file matches its sha256 and its data snapshot verifies; else one clear error."""
    path = root / entry["model"]["path"]

    def fix() -> str:  # only on failure: it reads DVC's config and cache
        from reprostack.store import restore

        return restore.restore_advice(root, Path(entry["model"]["path"]).parent, "restore it with")

    try:  # hashing, not model.training: a promote need not import the model package (~7 ms)
        actual = hashing.sha256_file(path)
    except FileNotFoundError:
        raise IntegrityError(f"model file {path} does not exist; {fix()}") from None
    if actual != entry["model"]["sha256"]:
        raise IntegrityError(
            f"{path} has sha256 {actual[:12]}, the registry recorded {entry['model']['sha256'][:12]}: "
            f"the released model was changed; " + fix()
        )
    data = entry["data"]
    snap_dir = root / snapshots_root / str(data.get("dataset")) / str(data.get("snapshot"))
    if not (snap_dir / "manifest.json").exists():
        raise SnapshotError(
            f"data snapshot {data.get('dataset')}/{data.get('snapshot')} of {entry['git']['tag']} is not in "
            f"{snapshots_root}/; rebuild it from data/raw with `dvc repro` (or `reprostack snapshot create`)"
        )
    manifest = snapshot.require_verified(snap_dir)
    if manifest.digest != data.get("digest"):
        raise SnapshotError(
            f"data snapshot {snap_dir} has digest {manifest.digest[:12]}, "
            f"{entry['git']['tag']} was trained on {str(data.get('digest'))[:12]}"
        )


def release_commits(
    root: Path, rules: RegistryParams, name: str, moves: list[tuple[dict, str]]
) -> tuple[list[str | None], str | None, tuple[int, int]]:
    """The commit each version's release tag points at, HEAD, and the model's tag state (one git
    process); stage tags go on those commits (GTO finds the version by it). A version entering
    a released_only stage must have its tag: the tag is the proof of release. A tag that no
    longer sits on the version's release commit was moved."""
    release_tags = [names.release_tag(name, entry["version"]) for entry, _ in moves]
    found, head, state = tags.lookup(root, name, release_tags)
    commits = []
    for (entry, to), tag in zip(moves, release_tags):
        if found[tag] is None and to in rules.released_only:
            raise RegistryError(
                f"{name} {entry['version']} has no release tag {tag}; only released versions may "
                f"enter {to} (fetch tags with `git fetch --tags`, or release it first)"
            )
        if found[tag] is not None and found[tag][1] != entry["git"]["commit"]:
            raise RegistryError(
                f"tag {tag} points at {found[tag][0][:10]}, which is not the release commit made on "
                f"{entry['git']['commit'][:10]}; the tag was moved by hand: restore it"
            )
        commits.append(found[tag][0] if found[tag] else None)
    return commits, head, state


def apply_moves(
    root: Path,
    rules: RegistryParams,
    data: dict,
    name: str,
    action: str,
    moves: list[tuple[dict, str]],
    reason: str,
    override: str | None = None,
) -> dict:
    """Move each (entry, to_stage) through the journal: write, log, commit, tag."""
    commits, head, state = release_commits(root, rules, name, moves)
    changes = [history.change(entry["version"], entry["stage"], to) for entry, to in moves]
    for entry, to in moves:
        entry["stage"] = to
    catalog.check_rules(data, rules, "(after this change)")
    message = f"registry: {action} {name}: " + ", ".join(f"{c['version']} {c['from']} -> {c['to']}" for c in changes)
    ident = history.current_user(root)
    planned, epoch = tags.plan_stage_tags(
        root,
        name,
        [(c["version"], commit, c["from"], c["to"]) for c, commit in zip(changes, commits) if commit],
        message,
        state,
    )
    event = history.event(action, name, changes, reason, ident, [tag for tag, _, _ in planned])
    if override is not None:  # only then: history lines of plain changes stay as they were
        event["policy_override"] = override
    record = journal.new(
        root,
        action,
        name,
        event,
        head=head,
        commit=rules.commit,
        paths=[str(catalog.REGISTRY_FILE), str(history.HISTORY_FILE)],
        message=message
        + (f"\n\nreason: {reason}" if reason else "")
        + (f"\n\npolicy override: {override}" if override else ""),
        planned=planned,
        tagger=ident,
        epoch=epoch,
    )
    change.apply(root, record, data)
    return event


def _target_stage(
    rules: RegistryParams, name: str, version: str, to: str, other_way: str, kind: str, command: str
) -> str:
    """Check the names and the stage a move goes to (promote and demote differ only in direction)."""
    names.check_model_name(name)
    names.check_version(version)
    if to not in rules.stages:
        raise RegistryError(f"unknown stage {to!r}; stages are {', '.join(rules.stages)} (conf/registry/)")
    if to == other_way:
        raise RegistryError(f"moving to {to} is a {kind}: use `reprostack registry {command} {name} {version}`")
    return to


def _locked_entry(root: Path, rules: RegistryParams, name: str, version: str, to: str) -> tuple[dict, dict]:
    """Under the lock: finish or undo an interrupted change first, then the version to move."""
    recovery.recover(root)
    data = catalog.read(root, rules)
    entry = catalog.require_version(data, name, version)
    if entry["stage"] == to:
        raise RegistryError(f"{name} {version} is already in {to}")
    return data, entry


def _refuse_demotion(rules: RegistryParams, name: str, entry: dict, to: str) -> None:
    """A promote that moves a version down the stage order (production -> dev) would empty a
    single-holder stage as a side effect: that is a demotion, made only by the explicit command."""
    order = {stage: i for i, stage in enumerate(rules.stages)}
    src = entry["stage"]
    if src != rules.replaced_to and src in order and to in order and order[to] < order[src]:
        raise RegistryError(
            f"{name} {entry['version']} is in {src}; moving it to {to} is a demotion"
            + (f" and leaves {src} empty" if src == rules.production else "")
            + f": use `reprostack registry demote {name} {entry['version']} --to {to}`"
        )


def promote(
    root: str | Path,
    params: Params,
    name: str,
    version: str,
    to: str | None = None,
    reason: str = "",
    override: str | None = None,
) -> dict:
    """Move a released version up; conf/policy.yaml must allow it unless `override` says why not."""
    from reprostack.registry import policy

    root, rules = Path(root), params.registry
    to = _target_stage(rules, name, version, to or rules.production, rules.replaced_to, "demotion", "demote")
    with catalog.locked(root, rules.lock_timeout):
        data, entry = _locked_entry(root, rules, name, version, to)
        _refuse_demotion(rules, name, entry, to)
        results = policy.evaluate(root, params.paths.runs, rules, data, name, version, to)
        overridden = policy.enforce(results, to, override)
        verify_version(root, entry, params.paths.snapshots)
        moves = [(entry, to)]
        if to == rules.production:
            moves += [(other, rules.replaced_to) for other in catalog.in_stage(data, name, to)]
        return apply_moves(root, rules, data, name, "promote", moves, reason, overridden)


def demote(root: str | Path, params: Params, name: str, version: str, to: str | None = None, reason: str = "") -> dict:
    root, rules = Path(root), params.registry
    to = _target_stage(rules, name, version, to or rules.replaced_to, rules.production, "promotion", "promote")
    with catalog.locked(root, rules.lock_timeout):
        data, entry = _locked_entry(root, rules, name, version, to)
        return apply_moves(root, rules, data, name, "demote", [(entry, to)], reason)


def rollback_target(root: Path, rules: RegistryParams, data: dict, name: str) -> tuple[dict, list[dict]]:
    """(the version a rollback puts back, the current production holders): the last version
    before the current one to enter production that the registry still knows."""
    current = catalog.in_stage(data, name, rules.production)
    current_version = current[0]["version"] if current else None
    known = {v["version"]: v for v in catalog.require_model(data, name)["versions"]}
    sequence = history.production_sequence(history.read(root, name), rules.production)
    previous = next((v for v in reversed(sequence) if v != current_version and v in known), None)
    if previous is None:
        raise RegistryError(
            f"{name} has no earlier {rules.production} version to roll back to "
            f"(see `reprostack registry history {name}`)"
        )
    return known[previous], current


def rollback(root: str | Path, params: Params, name: str, reason: str = "") -> dict:
    """Production goes back to the version that was there before the current one."""
    root, rules = Path(root), params.registry
    names.check_model_name(name)
    with catalog.locked(root, rules.lock_timeout):
        recovery.recover(root)
        data = catalog.read(root, rules)
        entry, current = rollback_target(root, rules, data, name)
        verify_version(root, entry, params.paths.snapshots)
        moves = [(entry, rules.production)] + [(c, rules.replaced_to) for c in current]
        return apply_moves(root, rules, data, name, "rollback", moves, reason)
