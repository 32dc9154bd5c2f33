"""`reprostack verify`: everything a release depends on, re-checked; what CI runs on a tag.

Each check returns problems as lines; an empty report means the project verifies. Checks that
have nothing to look at (no snapshots yet, no registry yet) say so instead of passing silently.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reprostack import config, environment, snapshot, training
from reprostack.errors import ReprostackError


def check_environment(root: Path) -> dict:
    return {"checked": 1, "problems": environment.compare_to_lock(root / environment.LOCK_FILE)}


def check_params(root: Path) -> dict:
    try:
        drift = config.drift(root / config.CONF_DIR, root / config.PARAMS_FILE)
    except ReprostackError as exc:
        return {"checked": 1, "problems": [str(exc)]}
    return {"checked": 1, "problems": [f"params.yaml differs from conf/ at {key}: {old!r} vs {new!r}"
                                       for key, (old, new) in drift.items()]}


def check_snapshots(root: Path, params: config.Params) -> dict:
    snapshot_dirs = sorted((root / params.paths.snapshots).glob("*/*/manifest.json"))
    problems = []
    for manifest_path in snapshot_dirs:
        try:
            problems += [f"{manifest_path.parent.relative_to(root)}: {p}" for p in snapshot.verify(manifest_path.parent)]
        except ReprostackError as exc:
            problems.append(str(exc))
    return {"checked": len(snapshot_dirs), "problems": problems}


def check_models(root: Path, params: config.Params) -> dict:
    """The candidate and every released model (models/<name>/<version>/) match their sha256."""
    cards = sorted({*(root / "models").glob("*/*/model.json"), *(root / params.paths.candidate).glob("model.json")})
    problems = []
    for card_path in cards:
        try:
            card = training.read_card(card_path.parent)
            actual = training.file_sha256(card_path.parent / card["file"])
            if actual != card["sha256"]:
                problems.append(f"{card_path.parent.relative_to(root)}/{card['file']}: sha256 {actual[:12]}, "
                                f"recorded {card['sha256'][:12]}")
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
        pointer = vectors.read_pointer(pointer_path)
        uri = pointer.uri if "://" in pointer.uri or Path(pointer.uri).is_absolute() else str(root / pointer.uri)
        vectors.read_rows(dataclasses.replace(pointer, uri=uri), params.embedding.storage_options)
    except ReprostackError as exc:
        return {"checked": 1, "problems": [str(exc)]}
    return {"checked": 1, "problems": [], "note": f"table {pointer.table} version {pointer.version}, tag {pointer.tag}"}


def check_registry(root: Path) -> dict:
    registry = root / "models" / "registry.json"
    if not registry.exists():
        return {"checked": 0, "problems": [], "note": "no models/registry.json yet"}
    from reprostack import jsonio

    try:
        jsonio.read_json(registry, schema_version=1, what="model registry")
    except ReprostackError as exc:
        return {"checked": 1, "problems": [str(exc)]}
    return {"checked": 1, "problems": []}


def verify_project(root: str | Path = ".") -> dict:
    root = Path(root)
    params = config.load_params(root / config.PARAMS_FILE)
    report = {
        "environment": check_environment(root),
        "params": check_params(root),
        "snapshots": check_snapshots(root, params),
        "vectors": check_vectors(root, params),
        "models": check_models(root, params),
        "registry": check_registry(root),
    }
    report["ok"] = not any(section["problems"] for section in report.values() if isinstance(section, dict))
    return report
