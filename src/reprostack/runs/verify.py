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
from reprostack.runs import environment, integrity


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
        current = refs.read_snapshot_pointer(root / params.paths.snapshot_pointer).version
    except ReprostackError:
        current = None
    problems = []
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
    from reprostack.store import remote

    cards = sorted({*(root / "models").glob("*/*/model.json"), *(root / params.paths.candidate).glob("model.json")})
    problems = []
    for card_path in cards:
        try:
            card = training.read_card(card_path.parent)
            actual = training.file_sha256(card_path.parent / card.file)
            if actual != card.sha256:
                rel = card_path.parent.relative_to(root)
                fix = remote.restore_command(root, rel) if (root / f"{rel}.dvc").exists() else "dvc repro"
                problems.append(f"{rel}/{card.file}: sha256 {actual[:12]}, recorded {card.sha256[:12]}; fix: `{fix}`")
        except ReprostackError as exc:
            problems.append(str(exc))
    return {"checked": len(cards), "problems": problems}


def check_vectors(root: Path, params: config.Params) -> dict:
    """The table version the pipeline's pointer pins still holds exactly the recorded vectors."""
    from reprostack import vectors

    pointer_path = root / params.paths.vectors_pointer
    if not pointer_path.exists():
        return {"checked": 0, "problems": [], "note": "no vector pointer yet; run `dvc repro`"}
    try:
        pointer = vectors.read_vectors_pointer(pointer_path)
        missing = integrity.check_table_files(root, params)  # one line each, not a reader's traceback
        if missing:
            return {"checked": 1, "problems": missing}
        uri = pointer.uri if "://" in pointer.uri or Path(pointer.uri).is_absolute() else str(root / pointer.uri)
        vectors.read_rows(pointer.model_copy(update={"uri": uri}), params.embedding.storage_options)
    except ReprostackError as exc:
        return {"checked": 1, "problems": [f"{exc}; fix: `dvc repro --force`"]}
    return {"checked": 1, "problems": [], "note": f"table {pointer.table}, tag {pointer.tag or pointer.version}"}
