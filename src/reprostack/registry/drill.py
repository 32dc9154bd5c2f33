"""`registry rollback --dry-run`: a drill that proves the version a rollback would put back can be
served now, switching nothing.

Its model file and data snapshot re-hashed (what promote checks), its run's table version read
and its content digest recomputed, its embedding model resolved and fingerprinted, every
dimension agreeing (encoder, table, classifier), and a few known requests (texts of its held-out
split) answered through the real prediction path (LoadedModel.predict with the version's own
encoder), which must give exactly the answers its table's stored vectors give. Takes no lock
and writes nothing: a drill may run beside the server and any registry command.
"""

from __future__ import annotations

from pathlib import Path

from reprostack.core.config import Params
from reprostack.core.errors import ReprostackError
from reprostack.registry import catalog, loader, promotion

REQUESTS = 5


def _table_rows(root: Path, params: Params, entry: dict):
    from reprostack import vectors
    from reprostack.runs import records, reproduce

    record = records.read_record(root / params.paths.runs, entry["run_id"])
    pointer = reproduce.run_pointer(root, record)
    if pointer is None:
        raise ReprostackError(f"run {entry['run_id']} names no table version")
    storage = (record["params"].get("embedding") or {}).get("storage_options")
    return record, pointer, vectors.read_rows(pointer, storage)


def _known_texts(root: Path, params: Params, entry: dict, record: dict, rows, count: int):
    """(ids, texts, labels) of the first `count` held-out rows whose ids the table holds."""
    from reprostack.data import hook
    from reprostack.model import training

    data = entry["data"]
    folder = root / params.paths.snapshots / str(data["dataset"]) / str(data["snapshot"])
    table = hook.read_dataset(folder / record["params"]["data"]["file"], params.data)
    text_of = dict(zip(table.ids, table.texts))
    mask = training.split_mask(rows.ids, record["params"]["data"]["test_size"], record["params"]["seed"])
    picked = [i for i, held_out in enumerate(mask) if held_out and rows.ids[i] in text_of][:count]
    return picked, [text_of[rows.ids[i]] for i in picked]


def drill(root: str | Path, params: Params, name: str, count: int = REQUESTS) -> dict:
    """Every check with its outcome; ok only when all pass. Raises only when there is no target."""
    root, rules = Path(root), params.registry
    data = catalog.read(root, rules)
    entry, current = promotion.rollback_target(root, rules, data, name)
    checks: list[dict] = []
    state: dict = {}

    def check(title: str, step, needs=()):
        if any(key not in state for key in needs):
            checks.append({"check": title, "passed": False, "detail": "not checked: an earlier check failed"})
            return
        try:
            detail = step()
        except ReprostackError as exc:
            checks.append({"check": title, "passed": False, "detail": str(exc)})
        else:
            checks.append({"check": title, "passed": True, "detail": detail})

    def files():
        promotion.verify_version(root, entry, params.paths.snapshots)
        state["model"] = loader.load_entry(root, name, entry)  # the server's own loader, sha256 checked
        return f"{entry['model']['path']} sha256 {entry['model']['sha256'][:12]} and its data snapshot verified"

    def table():
        state["record"], state["pointer"], state["rows"] = _table_rows(root, params, entry)
        pointer, rows = state["pointer"], state["rows"]
        named = f"tag {pointer.tag}" if pointer.tag else f"version {pointer.version}"
        return f"table {pointer.table} {named}: {len(rows.ids)} rows, content verified"

    def embedder():
        state["embed"] = loader.text_embedder(entry.get("embedding") or {}, root)
        return f"{entry['embedding']['model']}: weights fingerprint matches the release"

    def dimensions():
        probe = state["embed"](["dimension probe"]).shape[1]
        sizes = {
            "encoder": int(probe),
            "release": int(entry["embedding"]["dimension"]),
            "table": int(state["pointer"].dimension),
            "classifier": int(getattr(state["model"].classifier, "n_features_in_", probe)),
        }
        if len(set(sizes.values())) != 1:
            raise ReprostackError("dimensions differ: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
        return f"{probe} dimensions (encoder, release, table, classifier)"

    def requests():
        picked, texts = _known_texts(root, params, entry, state["record"], state["rows"], count)
        if not texts:
            raise ReprostackError("no held-out text of the snapshot is in the table to ask with")
        model = state["model"]
        served = model.predict(texts, state["embed"])  # what predict and serve run
        stored = model.classify(texts, state["rows"].vectors[picked])  # from the vectors it was trained on
        differ = [s["text"] for s, t in zip(served, stored) if (s["label"], s["scores"]) != (t["label"], t["scores"])]
        if differ:
            raise ReprostackError(f"{len(differ)} of {len(texts)} answers differ from the table's vectors' answers")
        state["answers"] = [{"text": p["text"], "label": p["label"]} for p in served]
        return f"{len(texts)} held-out texts answered, each as its stored vectors answer"

    check("model file and snapshot", files)
    check("table version", table)
    check("embedding model", embedder)
    check("dimensions", dimensions, needs=("model", "pointer", "embed"))
    check("known requests", requests, needs=("model", "rows", "embed"))
    return {
        "name": name,
        "target": entry["version"],
        "current": current[0]["version"] if current else None,
        "ok": all(c["passed"] for c in checks),
        "checks": checks,
        "answers": state.get("answers", []),
    }
