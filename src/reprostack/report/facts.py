"""The facts of a report, gathered once: they are the JSON sidecar as they are, and the HTML
page shows them and nothing else (so every number on the page is one of the sidecar's).

The registry and its history are given by the caller (this package sits below the registry,
whose release writes a report before the release exists on disk). Metrics come from the
registry entry (what `release` copied from eval/metrics.json); per-class numbers and confusion
matrices from eval/plots/sklearn/confusion_matrix.json at the commit that built each model.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from reprostack.core import config, git
from reprostack.core.errors import ReprostackError
from reprostack.model import evaluation
from reprostack.report import lineage

SCHEMA_VERSION = 1
CONFUSION = "plots/sklearn/confusion_matrix.json"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record(root: Path, params: config.Params, run_id: str | None) -> dict | None:
    from reprostack.runs import records

    try:
        return records.read_record(root / params.paths.runs, run_id) if run_id else None
    except ReprostackError:
        return None


def _eval_file(root: Path, params: config.Params, rev: str | None, name: str) -> str | None:
    rel = f"{params.paths.eval}/{name}"
    if rev is None:
        try:
            return (root / rel).read_text(encoding="utf-8")
        except OSError:
            return None
    shown = git.call(root, "show", f"{rev}:{rel}")
    return shown.stdout if shown.returncode == 0 else None


def confusion_for(root: Path, params: config.Params, metrics: dict, revs: list[str | None]) -> dict | None:
    """{"labels", "matrix" (rows actual, columns predicted), "per_class", "source"} from the
    confusion pairs committed beside the first of `revs` (None: the working tree) whose
    metrics.json is `metrics`: never a matrix of another model."""
    for rev in revs:
        try:
            found = json.loads(_eval_file(root, params, rev, evaluation.METRICS_FILE) or "null")
            if found != metrics:
                continue
            pairs = [
                (str(r["actual"]), str(r["predicted"]))
                for r in json.loads(_eval_file(root, params, rev, CONFUSION) or "[]")
            ]
        except (ValueError, KeyError, TypeError):
            continue
        if not pairs:
            continue
        labels = sorted({label for pair in pairs for label in pair})
        index = {label: i for i, label in enumerate(labels)}
        matrix = [[0] * len(labels) for _ in labels]
        for actual, predicted in pairs:
            matrix[index[actual]][index[predicted]] += 1
        source = f"{params.paths.eval}/{CONFUSION}" + (f" at {rev[:12]}" if rev else " (working tree)")
        return {"labels": labels, "matrix": matrix, "per_class": evaluation.per_class(pairs), "source": source}
    return None


def run_revs(root: Path, params: config.Params, record: dict) -> list[str | None]:
    """Where a run's evaluation may be: the working tree, then the commits that changed its
    metrics since the run's own commit (a run's outputs are committed after it)."""
    commit = (record.get("code") or {}).get("commit")
    known = bool(commit) and git.rev_parse(root, f"{commit}^{{commit}}") is not None
    since = ["--ancestry-path", f"{commit}..HEAD"] if known else ["HEAD"]
    metrics_file = f"{params.paths.eval}/{evaluation.METRICS_FILE}"
    listed = git.call(root, "log", "--format=%H", "-n", "50", *since, "--", metrics_file)
    revs = listed.stdout.split() if listed.returncode == 0 else []
    return [None, *reversed(revs), *([commit] if known else [])]


def deltas(this: dict, other: dict | None) -> dict[str, float]:
    """this - other for every numeric metric both have."""
    if not other:
        return {}
    return {
        key: round(value - other[key], 6)
        for key, value in sorted(this.items())
        if isinstance(value, int | float) and isinstance(other.get(key), int | float) and not isinstance(value, bool)
    }


def migrations(root: Path, params: config.Params, model: str | None) -> list[dict]:
    """The A/B reports of the vector migrations that moved the table to `model`."""
    found = []
    for path in sorted((root / params.paths.runs / "migrations").glob("migrated-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if model is None or data.get("to_model") == model:
            keep = ("table", "from_column", "from_model", "to_column", "to_model", "version", "rows", "checks")
            found.append(
                {
                    "file": str(path.relative_to(root)),
                    **{k: data.get(k) for k in keep},
                    "comparison": data.get("comparison") or {},
                }
            )
    return found


def environment(record: dict | None) -> dict:
    env = (record or {}).get("environment") or {}
    keep = ("python", "platform", "machine", "cpu_count", "cpu", "threads", "packages", "requirements_lock_sha256")
    return {key: env.get(key) for key in keep if key in env}


def verdict(root: Path, params: config.Params, run_id: str | None) -> dict | None:
    """The newest saved reproduce verdict of the run (`runs reproduce --save`), if any."""
    from reprostack.runs import reproductions

    return reproductions.latest(root / params.paths.runs, run_id)


def held(events: list[dict], name: str, version: str) -> list[dict]:
    """The stage changes of one version, oldest first, from the history log."""
    return [
        {
            "time": e["time"],
            "action": e["action"],
            "from": c.get("from"),
            "to": c["to"],
            "reason": e.get("reason"),
            "user": e.get("user"),
        }
        for e in events
        if e["model"] == name
        for c in e["changes"]
        if c["version"] == version
    ]


def release_facts(
    root: Path,
    params: config.Params,
    registry: dict,
    events: list[dict],
    name: str,
    version: str,
    pending: bool = False,
    model_file: Path | None = None,
) -> dict:
    """Everything a release report shows. `pending`: written by the release itself (its tag is
    made after the report, and `events` already holds the release's own event)."""
    model = next(m for m in registry["models"] if m["name"] == name)
    entry = next(v for v in model["versions"] if v["version"] == version)
    record = _record(root, params, entry.get("run_id"))
    production = next(
        (v for v in model["versions"] if v["stage"] == params.registry.production and v["version"] != version), None
    )
    links = lineage.release_lineage(root, params, entry, record, held(events, name, version), pending, model_file)
    this_confusion = confusion_for(root, params, entry["metrics"], [entry["git"]["commit"]])
    prod_confusion = (
        confusion_for(root, params, production["metrics"], [production["git"]["commit"]]) if production else None
    )
    embedding = (entry.get("embedding") or {}).get("model")
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "release",
        "generated_utc": _now(),
        "title": f"{name} {version}",
        "model": name,
        "version": version,
        "stage": entry["stage"],
        "entry": {k: v for k, v in entry.items() if k != "report"},
        "lineage": links,
        "lineage_ok": lineage.ok(links),
        "compared_with": production["version"] if production else None,
        "metrics": {
            "this": entry["metrics"],
            "production": production["metrics"] if production else None,
            "deltas": deltas(entry["metrics"], production["metrics"] if production else None),
        },
        "confusion": {"this": this_confusion, "production": prod_confusion},
        "timeline": [
            {k: e.get(k) for k in ("time", "action", "changes", "reason", "user", "tags")}
            for e in events
            if e["model"] == name
        ],
        "run": {"run_id": entry.get("run_id"), "found": record is not None},
        "verdict": verdict(root, params, entry.get("run_id")),
        "environment": environment(record),
        "migrations": migrations(root, params, embedding) if embedding else [],
    }


def run_facts(root: Path, params: config.Params, record: dict, previous: dict | None, releases: list[str]) -> dict:
    """Everything a run report shows: the record, its diff against `previous`, its confusion
    matrix (at its commit), verdict and environment; `releases`: <model>@<version> made from it."""
    from reprostack.runs import diff

    metrics = (record.get("outputs") or {}).get("metrics") or {}
    prev_metrics = ((previous or {}).get("outputs") or {}).get("metrics")
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "run",
        "generated_utc": _now(),
        "title": f"run {record['run_id']}",
        "run_id": record["run_id"],
        "record": record,
        "releases": releases,
        "metrics": {"this": metrics, "previous": prev_metrics, "deltas": deltas(metrics, prev_metrics)},
        "compared_with": (previous or {}).get("run_id"),
        "diff": diff.diff(previous, record) if previous else None,
        "confusion": {
            "this": confusion_for(root, params, metrics, run_revs(root, params, record)) if metrics else None
        },
        "verdict": verdict(root, params, record["run_id"]),
        "environment": environment(record),
        "migrations": migrations(root, params, (record.get("vectors") or {}).get("model")),
    }
