"""The catalog, models/registry.json: which version of each model is in which stage, and its
provenance.

The file is a superset of the common {"name", "versions": [{"version", "stage"}]} layout, one
entry per model under "models". Its shape is the pydantic `Registry` document (extra keys
refused, older schemas migrated on read), with conf/registry/'s stage rules on top. It changes
only under an exclusive lock (`locked`) and through the journal (registry/journal.py), so
concurrent commands serialise and a killed one is finished or undone by the next. A last-good
copy follows each change, so a hand-broken registry.json can be restored from it. Callers get
and give plain dicts (the JSON as written), which the model validates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reprostack.core import jsonio, names
from reprostack.core.config import RegistryParams
from reprostack.core.errors import RegistryError
from reprostack.registry.lock import LOCK_FILE, locked  # noqa: F401 (the registry's lock: `catalog.locked`)

REGISTRY_FILE = Path("models") / "registry.json"
LAST_GOOD_FILE = Path("models") / ".registry.last-good.json"
SHA = r"^[0-9a-f]{64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class GitRef(_Strict):  # commit: the one that built the model, the release tag's parent
    tag: str
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")


class ModelFile(_Strict):
    path: str
    sha256: str = Field(pattern=SHA)
    classifier: str | None = None
    classes: list[str] | None = None


class ReportFile(_Strict):
    path: str
    sha256: str = Field(pattern=SHA)


class Version(_Strict):
    version: str
    stage: str
    created_at: str
    git: GitRef
    model: ModelFile
    metrics: dict[str, Any]
    params_sha256: str
    data: dict[str, Any]
    vectors: dict[str, Any]
    run_id: str
    released_by: str | None = None
    embedding: dict[str, Any] | None = None
    report: ReportFile | None = None  # the release's report (report.html) beside the model


class Model(_Strict):
    name: str
    versions: list[Version]

    @model_validator(mode="after")
    def _names_and_paths(self) -> Model:
        try:  # name rules raise RegistryError; pydantic reports ValueErrors with their place
            name = names.check_model_name(self.name)
            for entry in self.versions:
                names.check_version(entry.version)
                names.check_stage_name(entry.stage)
        except RegistryError as exc:
            raise ValueError(str(exc)) from None
        seen = set()
        for entry in self.versions:
            if entry.version in seen:
                raise ValueError(f"{name} {entry.version} appears twice")
            seen.add(entry.version)
            folder = f"models/{name}/{entry.version}/"
            rest = entry.model.path[len(folder) :]
            if not entry.model.path.startswith(folder) or not rest or "/" in rest:
                raise ValueError(f"{name} {entry.version}: model.path must be a file directly in {folder}")
            if entry.git.tag != names.release_tag(name, entry.version):
                raise ValueError(f"{name} {entry.version}: git.tag must be {names.release_tag(name, entry.version)}")
        return self


class Registry(jsonio.Document):
    SCHEMA_VERSION: ClassVar[int] = 1
    models: list[Model]

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        seen = [m.name for m in self.models]
        twice = sorted({n for n in seen if seen.count(n) > 1})
        if twice:
            raise ValueError(f"model {twice[0]!r} appears twice")
        return self


def empty() -> dict:
    return {"schema_version": Registry.SCHEMA_VERSION, "models": []}


def _restore_hint(root: Path) -> str:
    if (root / LAST_GOOD_FILE).exists():
        return (
            f"restore the last good copy with `cp {LAST_GOOD_FILE} {REGISTRY_FILE}` (or `git checkout {REGISTRY_FILE}`)"
        )
    return f"restore it with `git checkout {REGISTRY_FILE}`"


def validate(data: object, rules: RegistryParams | None = None, where: str = str(REGISTRY_FILE)) -> dict:
    """Raise one RegistryError naming the first defect; return the data (migrated if older)."""
    try:
        doc = jsonio.parse(data, Registry, error=RegistryError, where=f"model registry {where}")
    except RegistryError as exc:  # a name rule's own message reads better without pydantic's prefix
        raise RegistryError(str(exc).replace("Value error, ", "")) from None
    if data["schema_version"] != Registry.SCHEMA_VERSION:
        data = doc.to_json()
    return check_rules(data, rules, where) if rules is not None else data


def check_rules(data: dict, rules: RegistryParams, where: str) -> dict:
    """Known stages, one version in production at most: what a stage change must re-check."""
    for model in data["models"]:
        name = model["name"]
        for entry in model["versions"]:
            if entry["stage"] not in rules.stages:
                raise RegistryError(
                    f"model registry {where}: {name} {entry['version']} is in stage "
                    f"{entry['stage']!r}, not one of {', '.join(rules.stages)} (conf/registry/)"
                )
    return check_single_holder(data, rules.production, where)


def check_single_holder(data: dict, production: str, where: str) -> dict:
    """One version in production at most: checked on every read too, so a hand edit is refused by
    predict, serve and verify instead of one of the holders being served without a word."""
    for model in data["models"]:
        in_production = [e["version"] for e in model["versions"] if e["stage"] == production]
        if len(in_production) > 1:
            raise RegistryError(
                f"model registry {where}: {model['name']} has {len(in_production)} versions in "
                f"{production} ({', '.join(in_production)}); at most one is allowed"
            )
    return data


def _project_production(root: Path) -> str | None:
    """The production stage's name from the project's params.yaml, for readers that have no rules."""
    from reprostack.core import config

    try:
        return (config.read_params_file(root / config.PARAMS_FILE).get("registry") or {}).get("production")
    except Exception:  # noqa: BLE001 - no or bad params.yaml: the rules' own readers report it
        return None


def read(root: str | Path = ".", rules: RegistryParams | None = None) -> dict:
    """The registry, validated; an empty one if the file does not exist yet."""
    root = Path(root)
    path = root / REGISTRY_FILE
    if not path.exists():
        return empty()
    try:
        data = validate(jsonio._decode(path, RegistryError, "model registry"), rules, str(path))
        production = _project_production(root) if rules is None else None
        return check_single_holder(data, production, str(path)) if production else data
    except RegistryError as exc:
        raise RegistryError(f"{exc}; {_restore_hint(root)}") from None


def dumps(data: dict) -> str:
    """Sorted keys and indentation as jsonio.dumps, except that each version is one line: a stage
    change is a one-line git diff, and with 1,000 versions full indentation would cost ~5x more."""

    def line(value) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)

    models = []
    for model in sorted(data["models"], key=lambda m: m["name"]):
        rest = {k: v for k, v in model.items() if k != "versions"}
        fields = [f"      {line(k)}: {line(v)}" for k, v in sorted(rest.items())]
        versions = ",\n".join(f"        {line(v)}" for v in model["versions"])
        fields.append('      "versions": [\n' + versions + "\n      ]" if versions else '      "versions": []')
        models.append("    {\n" + ",\n".join(fields) + "\n    }")
    others = [f"  {line(k)}: {line(v)}" for k, v in sorted(data.items()) if k != "models"]
    body = '  "models": [\n' + ",\n".join(models) + "\n  ]" if models else '  "models": []'
    return "{\n" + ",\n".join([body, *others]) + "\n}\n"


def write(root: str | Path, data: dict, rules: RegistryParams | None = None, validated: bool = False) -> None:
    """Validate (unless the caller just did), replace registry.json atomically (journal only)."""
    if not validated:
        validate(data, rules, "(about to be written)")
    jsonio.atomic_write_text(Path(root) / REGISTRY_FILE, dumps(data))


def refresh_last_good(root: Path) -> None:
    """Copy registry.json to the last-good file; on a full disk drop the stale copy instead."""
    try:
        jsonio.atomic_write_bytes(root / LAST_GOOD_FILE, (root / REGISTRY_FILE).read_bytes())
    except OSError:  # no registry.json (first release undone), no space, or not a file
        try:
            (root / LAST_GOOD_FILE).unlink(missing_ok=True)
        except OSError:
            pass  # the copy is a convenience: never fail a change that has already taken effect


def find_model(data: dict, name: str) -> dict | None:
    return next((m for m in data["models"] if m["name"] == name), None)


def require_model(data: dict, name: str) -> dict:
    names.check_model_name(name)
    model = find_model(data, name)
    if model is None:
        known = ", ".join(m["name"] for m in data["models"]) or "none yet"
        raise RegistryError(
            f"no model {name!r} in the registry (known: {known}); release one with `reprostack release <name>`"
        )
    return model


def require_version(data: dict, name: str, version: str) -> dict:
    names.check_version(version)
    model = require_model(data, name)
    entry = next((v for v in model["versions"] if v["version"] == version), None)
    if entry is None:
        raise RegistryError(f"{name} has no version {version}; list them with `reprostack registry show {name}`")
    return entry


def in_stage(data: dict, name: str, stage: str) -> list[dict]:
    return [v for v in require_model(data, name)["versions"] if v["stage"] == stage]


def latest_version(data: dict, name: str) -> str | None:
    model = find_model(data, name)
    if not model or not model["versions"]:
        return None
    return max((v["version"] for v in model["versions"]), key=names.version_key)
