"""The project's part of `reprostack verify` (environment, params, snapshots, table, models); the
registry's is registry/audit.py, and reprostack.api.verify runs them all.

Each check returns problems as lines; an empty report means the project verifies. Checks that
have nothing to look at (no snapshots yet, no registry yet) say so instead of passing silently.
"""

from __future__ import annotations

from pathlib import Path

from reprostack.core import config
from reprostack.core.errors import ReprostackError
from reprostack.data import refs, snapshot
from reprostack.model import training
from reprostack.runs import environment, tablecheck


def check_environment(root: Path) -> dict:
    return {"checked": 1, "problems": environment.compare_to_lock(root / environment.LOCK_FILE)}


def check_params(root: Path) -> dict:
    try:
        drift = config.drift(root / config.CONF_DIR, root / config.PARAMS_FILE)
    except ReprostackError as exc:
        return {"checked": 1, "problems": [str(exc)]}
    return {
        "checked": 1,
        "problems": [
            f"params.yaml differs from conf/ at {key}: {old!r} vs {new!r}" for key, (old, new) in drift.items()
        ],
    }


def check_snapshots(root: Path, params: config.Params) -> dict:
    snapshot_dirs = sorted((root / params.paths.snapshots).glob("*/*/manifest.json"))
    try:
        pointed = refs.read_snapshot_pointer(root / params.paths.snapshot_pointer)
        current = pointed.version
    except ReprostackError:
        pointed = current = None
    problems = []
    if pointed is not None and not (root / params.paths.snapshots / pointed.dataset / current).is_dir():
        from reprostack.store import remote

        # a clone that was not store-pulled: 0 checked must not read as ok
        fix = "reprostack store pull" if remote.find(root) is not None else "reprostack snapshot create --repair"
        problems.append(
            f"{params.paths.snapshot_pointer} names snapshot {pointed.dataset}/{current}, which is not in "
            f"{params.paths.snapshots}/; fix: `{fix}`"
        )
    for manifest_path in snapshot_dirs:
        rel = manifest_path.parent.relative_to(root)
        # the pipeline's snapshot is rebuilt from data/raw; an older one only from the commit that
        # made it, so the fix removes it (check out that commit and re-create it if it is needed)
        fix = (
            "fix: `reprostack snapshot create --repair`"
            if rel.name == current
            else f"fix: `rm -rf {rel}` (an older snapshot: to rebuild it, check out the commit that made it "
            "and re-create it)"
        )
        try:
            problems += [f"{rel}: {p}; {fix}" for p in snapshot.verify(manifest_path.parent)]
        except ReprostackError as exc:
            problems.append(f"{exc}; {fix}")
    return {"checked": len(snapshot_dirs), "problems": problems}


def check_models(root: Path, params: config.Params) -> dict:
    """The candidate and every released model (models/<name>/<version>/) match their sha256."""
    from reprostack.store import restore

    cards = sorted({*(root / "models").glob("*/*/model.json"), *(root / params.paths.candidate).glob("model.json")})
    problems = []
    for card_path in cards:
        try:
            card = training.read_card(card_path.parent)
            actual = training.file_sha256(card_path.parent / card.file)
            if actual != card.sha256:
                rel = card_path.parent.relative_to(root)
                fix = restore.restore_advice(root, rel) if (root / f"{rel}.dvc").exists() else "fix: `dvc repro`"
                problems.append(f"{rel}/{card.file}: sha256 {actual[:12]}, recorded {card.sha256[:12]}; {fix}")
        except ReprostackError as exc:
            problems.append(str(exc))
    problems += _release_files(root)
    return {"checked": len(cards), "problems": problems}


def _release_files(root: Path) -> list[str]:
    """Every file of every release (params.json, metrics.json, the card, ...) is the file `dvc
    add` recorded; the model file itself is reported above with its sha256."""
    from reprostack.store import objects, restore

    problems = []
    for dvcfile in sorted((root / "models").glob("*/*.dvc")):
        changed = objects.changed_files(root, dvcfile)
        rel = dvcfile.with_suffix("").relative_to(root).as_posix()
        others = [f for f in changed or [] if f != training.MODEL_FILE]
        if others:
            problems.append(
                f"{rel}: {', '.join(others)} differ from the release's record ({rel}.dvc); "
                + restore.restore_advice(root, rel)
            )
    return problems


def check_vectors(root: Path, params: config.Params) -> dict:
    """The table version the pipeline's pointer pins still holds exactly the recorded vectors."""
    from reprostack import vectors

    pointer_path = root / params.paths.vectors_pointer
    if not pointer_path.exists():
        return {"checked": 0, "problems": [], "note": "no vector pointer yet; run `dvc repro`"}
    try:
        pointer = vectors.read_vectors_pointer(pointer_path)
        missing = tablecheck.check_table_files(root, params)  # one line each, not a reader's traceback
        if missing:
            return {"checked": 1, "problems": missing}
        uri = pointer.uri if "://" in pointer.uri or Path(pointer.uri).is_absolute() else str(root / pointer.uri)
        rows = vectors.read_rows(pointer.model_copy(update={"uri": uri}), params.embedding.storage_options)
        problems = _rows_against_snapshot(root, params, pointer, rows.ids)
        if problems:
            return {"checked": 1, "problems": problems}
    except ReprostackError as exc:
        return {"checked": 1, "problems": [f"{exc}; fix: `dvc repro --force`"]}
    except Exception as exc:  # a data file of the right size but corrupt bytes: the reader's IO error
        from reprostack.core.errors import lance_io

        found = lance_io(exc)
        if found is None:
            raise
        why = str(found).split("(", 1)[1].rsplit(");", 1)[0][:200]
        table = tablecheck.table_dir_shown(root, pointer)
        return {
            "checked": 1,
            "problems": [
                f"table {pointer.table!r} {pointer.tag or pointer.version} cannot be read ({why}): a file is "
                "corrupt in place (the damaged table is kept aside; its versions come back only from a store "
                f"that holds them); fix: `{tablecheck.REPLACE_TABLE.format(table_dir=table)}`"
            ],
        }
    return {"checked": 1, "problems": [], "note": f"table {pointer.table}, tag {pointer.tag or pointer.version}"}


def _rows_against_snapshot(root: Path, params: config.Params, pointer, ids: list[str]) -> list[str]:
    """The pinned version holds each id once, and exactly the ids of the snapshot it was built
    from (read as the embed stage reads it): a second writer's rows, or lost ones, show here."""
    from collections import Counter

    from reprostack.data import hook

    fix = "fix: `dvc repro --force -s embed` (the next write keeps one row per id)"
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    if dupes:
        return [
            f"table {pointer.table} {pointer.tag or pointer.version}: {len(dupes)} id(s) held by several rows "
            f"(e.g. {dupes[0]!r}; {len(ids)} rows); {fix}"
        ]
    try:
        snap = refs.read_snapshot_pointer(root / params.paths.snapshot_pointer)
    except ReprostackError:
        return []  # the snapshot check reports it
    if snap.version != pointer.snapshot:
        return []  # a stale pointer: `dvc status` shows the stage to run
    folder = snap.path if snap.path.is_absolute() else root / snap.path
    if not (folder / params.data.file).is_file():
        return []  # not in this clone (a store-pulled one): the snapshots check speaks for it
    expected = set(hook.read_dataset(folder / params.data.file, params.data).ids)
    if expected != set(ids):
        return [
            f"table {pointer.table} {pointer.tag or pointer.version} holds {len(ids)} rows, snapshot {snap.version} "
            f"{len(expected)} ({len(set(ids) - expected)} extra, {len(expected - set(ids))} missing); {fix}"
        ]
    return []
