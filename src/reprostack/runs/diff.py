"""What differs between two run records, and only that: code, data, params, environment,
outputs and metrics (`reprostack runs diff`, the report and the UI all use `diff`).

Records are read as plain JSON and flattened to dotted keys, so fields added to records later
land in their section (or in "other") without a change here. The seed's top-level summary
fields (code_commit, data_snapshot, env) repeat the rich ones and are left out, and so are the
fields that differ between any two runs by construction (ids, timestamps, stage timings).
"""

from __future__ import annotations

from typing import Any

SECTIONS = ("code", "data", "params", "environment", "outputs", "metrics", "other")
# top-level record field -> section; anything not named here and not skipped is "other"
_PLACE = {
    "code": "code",
    "data": "data",
    "vectors": "data",
    "engine": "data",
    "params": "params",
    "params_overrides": "params",
    "environment": "environment",
    "outputs": "outputs",
}
_SKIPPED = frozenset(
    {"schema_version", "run_id", "created_utc", "started_utc", "finished_utc", "stages"}
    | {"code_commit", "data_snapshot", "env"}  # the seed's summary of code, data, environment
)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists and scalars are leaves (an empty dict is one too)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _sectioned(record: dict) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for field, value in record.items():
        if field in _SKIPPED:
            continue
        section = _PLACE.get(field, "other")
        if field == "outputs" and isinstance(value, dict):
            found["metrics"].update(flatten(value.get("metrics") or {}, "outputs.metrics"))
            value = {k: v for k, v in value.items() if k != "metrics"}
        found[section].update(flatten(value, field))
    for keys in found.values():  # an empty leaf and an absent key are the same fact
        for key in [k for k, v in keys.items() if v in ({}, None, [])]:
            keys[key] = None
    return found


def _delta(old: Any, new: Any) -> float | None:
    numbers = (int, float)
    if isinstance(old, numbers) and isinstance(new, numbers) and not isinstance(old, bool | type(None)):
        if isinstance(new, bool):
            return None
        return round(new - old, 12)
    return None


def diff(a: dict, b: dict, include_same: bool = False) -> dict:
    """{"a": id, "b": id, "sections": {section: [{key, a, b, delta?, same}]}, "differences": n,
    "same": n, "changes": {key: [a, b]}}. Keys are the values' paths in the record. Rows of equal
    values only with include_same; sections without rows are left out. `changes` is the flat
    form `runs diff --json` printed before sections existed, kept for its readers."""
    left, right = _sectioned(a), _sectioned(b)
    sections: dict[str, list[dict]] = {}
    differences = same = 0
    for name in SECTIONS:
        rows = []
        for key in sorted(set(left[name]) | set(right[name])):
            old, new = left[name].get(key), right[name].get(key)
            equal = old == new
            differences, same = differences + (not equal), same + equal
            if equal and not include_same:
                continue
            row = {"key": key, "a": old, "b": new, "same": equal}
            if (delta := _delta(old, new)) is not None and not equal:
                row["delta"] = delta
            rows.append(row)
        if rows:
            sections[name] = rows
    changes = {row["key"]: [row["a"], row["b"]] for rows in sections.values() for row in rows if not row["same"]}
    return {
        "a": a.get("run_id"),
        "b": b.get("run_id"),
        "sections": sections,
        "differences": differences,
        "same": same,
        "changes": changes,
    }


def short(value: Any, width: int = 48) -> str:
    """A cell for a table: lists joined, long values cut in the middle (hashes stay recognisable)."""
    if value is None:
        text = "-"
    elif isinstance(value, list):
        text = ", ".join(map(str, value)) or "-"
    else:
        text = str(value)
    return text if len(text) <= width else f"{text[: width // 2 - 1]}…{text[-(width // 2 - 1) :]}"
