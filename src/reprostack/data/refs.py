"""What names a snapshot: its labels (labels.json beside the versions) and the pointer file
(data/snapshot.json) the pipeline follows. Both are validated documents (jsonio.Document)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, Field, Strict, field_validator, model_validator
from pydantic_core import PydanticCustomError

from reprostack.core import jsonio
from reprostack.core.errors import SnapshotError
from reprostack.core.fields import Sha256, expect
from reprostack.data import manifest

LABELS = "labels.json"


class Snapshot(jsonio.Document):
    """One snapshot, and the pointer file's content."""

    model_config = ConfigDict(frozen=True)
    schema_version: int = 1
    dataset: str
    version: Annotated[
        str,
        Strict(),
        Field(pattern=manifest.VERSION_RE.pattern),
        expect("12 lowercase hex digits (the digest's first 12)"),
    ]
    digest: Sha256
    path: Path

    @field_validator("dataset")
    @classmethod
    def _name(cls, dataset: str) -> str:
        try:
            return manifest.check_name("dataset name", dataset)
        except SnapshotError as exc:
            raise PydanticCustomError("expected", str(exc)) from None

    @model_validator(mode="after")
    def _version_of_digest(self):
        if self.version != self.digest[:12]:
            raise PydanticCustomError("expected", "version must be the digest's first 12 hex digits")
        return self

    def fields(self) -> dict:
        """The values without the file's schema_version (what `snapshot create --json` shows)."""
        return {key: value for key, value in self.to_json().items() if key != "schema_version"}


class Labels(jsonio.Document):
    schema_version: int = 1
    labels: dict[str, str]

    @field_validator("labels")
    @classmethod
    def _names(cls, labels: dict[str, str]) -> dict[str, str]:
        for label, version in labels.items():
            try:
                check_label(label)
            except SnapshotError as exc:
                raise PydanticCustomError("labels", str(exc)) from None
            if not manifest.VERSION_RE.match(version):
                raise PydanticCustomError("labels", f"label {label!r} names {version!r}, not a snapshot version")
        return labels


def check_label(label: str) -> str:
    manifest.check_name("label", label)
    if manifest.VERSION_RE.match(label):
        raise SnapshotError(f"label {label!r} looks like a snapshot version; pick a name such as v0.1")
    return label


def labels(dataset_dir: str | Path) -> dict[str, str]:
    path = Path(dataset_dir) / LABELS
    if not path.exists():
        return {}
    return jsonio.load(path, Labels, error=SnapshotError, what="snapshot labels").labels


def add_label(dataset_dir: str | Path, label: str, version: str) -> None:
    """Labels are immutable too: a label names one snapshot forever."""
    current = labels(dataset_dir)
    if current.get(label, version) != version:
        raise SnapshotError(
            f"label {label!r} already names snapshot {current[label]}; labels cannot move, pick a new one"
        )
    if label not in current:
        jsonio.save(Path(dataset_dir) / LABELS, Labels(labels={**current, label: version}))


def write_snapshot_pointer(path: str | Path, snapshot: Snapshot) -> None:
    jsonio.save(path, snapshot)


def read_snapshot_pointer(path: str | Path) -> Snapshot:
    return jsonio.load(path, Snapshot, error=SnapshotError, what="snapshot pointer")
