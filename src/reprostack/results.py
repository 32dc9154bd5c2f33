"""The typed results of reprostack.api that no library document already is (pipx's result.py):
frozen dataclasses, no pydantic, so importing the API stays light.

Where a validated document exists it is the result itself (data.refs.Snapshot, runs.records.
RunRecord, registry.catalog.Registry, registry.history.Event, registry.loader.LoadedModel).
Each class here has `to_json()`: the plain data `--json` prints, the same keys as before the API.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


class _Result:
    def to_json(self) -> dict:
        return dataclasses.asdict(self)  # type: ignore[call-overload]  (every subclass is a dataclass)


@dataclass(frozen=True)
class SnapshotInfo(_Result):
    """One row of `snapshot list`."""

    dataset: str
    version: str
    labels: list[str]
    file_count: int
    total_size_bytes: int
    created_utc: str | None


@dataclass(frozen=True)
class VectorsInfo(_Result):
    """One version of the vector table: its rows, tags, vector columns and ANN indices."""

    table: str
    version: int
    rows: int
    tags: list[str]
    active_column: str
    columns: dict[str, dict]  # column -> {model, fingerprint, dimension, normalize, ...}
    params_sha256: str  # the embedding settings the table was made with
    indices: list[dict]  # {name, type, columns}


@dataclass(frozen=True)
class SearchHit(_Result):
    id: str
    text: str
    label: str
    distance: float


@dataclass(frozen=True)
class SearchResult(_Result):
    """Nearest rows to a query text, from one version of the table."""

    query: str
    column: str
    version: int
    index_used: bool
    seconds: float
    results: list[SearchHit]


@dataclass(frozen=True)
class Prediction(_Result):
    text: str
    label: str
    scores: dict[str, float]
    truncated: bool = False  # the text was cut at the encoder's token limit


@dataclass(frozen=True)
class Predictions(_Result):
    """Labels of some texts and the model that gave them (name, version, stage, sha256, encoder)."""

    model: dict[str, Any]
    predictions: list[Prediction]


@dataclass(frozen=True)
class StorePush(_Result):
    pushed: bool
    note: str | None = None  # why not, and the command that pushes it later

    def to_json(self) -> dict:
        return {"pushed": self.pushed, **({"note": self.note} if self.note is not None else {})}


@dataclass(frozen=True)
class ReleaseResult(_Result):
    """A new registered version: its tags, commit, store directory and whether the store has it."""

    name: str
    version: str
    stage: str
    tags: list[str]
    commit: str | None
    path: str
    sha256: str
    metrics: dict[str, Any]
    store: StorePush

    def to_json(self) -> dict:
        return {
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "store"},
            "store": self.store.to_json(),
        }


@dataclass(frozen=True)
class Check(_Result):
    """One section of `verify`: how much was looked at, and one line per problem (each ending
    in the command that fixes it)."""

    checked: int
    problems: list[str]
    note: str | None = None

    def to_json(self) -> dict:
        return {"checked": self.checked, "problems": self.problems, **({"note": self.note} if self.note else {})}


@dataclass(frozen=True)
class VerifyReport(_Result):
    sections: dict[str, Check]  # environment, params, snapshots, vectors, models, ... registry, store
    removed: list[str] | None = None  # with fix=True: what was removed or re-created first

    @property
    def ok(self) -> bool:
        return not any(check.problems for check in self.sections.values())

    def to_json(self) -> dict:
        out: dict[str, Any] = {name: check.to_json() for name, check in self.sections.items()}
        if self.removed is not None:
            out["removed"] = self.removed
        return {**out, "ok": self.ok}


@dataclass(frozen=True)
class ReproduceResult(_Result):
    """A run re-run from its commit, and the verdict: bit-identical, within tolerance or not
    reproduced. `comparison` holds what was compared (model sha256s, metrics and their deltas,
    vectors, predictions, environment differences, notes, the tolerance)."""

    run_id: str
    commit: str
    mode: str  # exact (the run's table version) or recompute (re-embedded)
    verdict: str
    reproduced: bool
    seconds: float
    worktree: str | None
    comparison: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        top = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "comparison"}
        return {**self.comparison, **top}


@dataclass(frozen=True)
class PolicyCheck(_Result):
    """conf/policy.yaml's verdict on moving a version to a stage: each rule, passed or not."""

    name: str
    version: str
    to: str
    allowed: bool
    rules: list[dict]  # {rule, passed, detail}


@dataclass(frozen=True)
class ProvenanceResult(_Result):
    """The provenance chain of a model version (or of what a server holds), link by link."""

    name: str
    version: str | None
    verified: bool
    first_broken: str | None
    links: list[dict]  # {name, status: ok|broken|skipped, detail, evidence}
    statement: dict  # the in-toto Statement v1
    written: str | None  # where the statement was written
    signature: str | None
    seconds: float


@dataclass(frozen=True)
class DrillResult(_Result):
    """`registry rollback --dry-run`: can the version a rollback would put back be served now?"""

    name: str
    target: str
    current: str | None
    ok: bool
    checks: list[dict]  # {check, passed, detail}
    answers: list[dict]  # {text, label} of the known requests


@dataclass(frozen=True)
class GcResult(_Result):
    """`reprostack gc`: each item that goes (or would, with --dry-run), per store, and what was freed."""

    dry_run: bool
    items: list[dict]  # {store, key, size, reason}
    bytes: dict[str, int]  # per store: listed (dry run) or freed
    notes: dict[str, str]  # per store: why it was not collected
    kept: dict[str, int]  # how many commits, objects, table versions and snapshots are kept
    finished: str | None  # an interrupted gc this run finished first


@dataclass(frozen=True)
class RunDiff(_Result):
    """What differs between two run records: {section: [{key, a, b, same, delta?}]} for code,
    data, params, environment, outputs, metrics (and other); equal values only when asked."""

    a: str
    b: str
    sections: dict[str, list[dict[str, Any]]]
    differences: int
    same: int
    changes: dict[str, list[Any]] = field(default_factory=dict)  # {key: [a, b]} of the differences


@dataclass(frozen=True)
class ReportResult(_Result):
    """A written report: the HTML page, its JSON sidecar, the page's sha256 and whether every
    lineage link checked out (a run report has no lineage: always True)."""

    kind: str  # release or run
    title: str
    html: str
    json: str
    sha256: str
    bytes: int
    lineage_ok: bool
    seconds: float
