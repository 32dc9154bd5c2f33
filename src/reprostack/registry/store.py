"""models/registry.json: which version of each model is in which stage, and its provenance.

The file is a superset of the common {"name", "versions": [{"version", "stage"}]} layout, one
entry per model under "models". It is validated on every read and before every write, written
atomically, and changed only under an exclusive file lock (`locked`), so concurrent
commands serialise instead of losing each other's updates. After every write the same bytes go
to a last-good copy, so a hand-broken registry.json can be restored from it.
"""

from __future__ import annotations

import json
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from reprostack import jsonio, names
from reprostack.config import RegistryParams
from reprostack.errors import RegistryError
from reprostack.registry import history

SCHEMA_VERSION = 1
REGISTRY_FILE = Path("models") / "registry.json"
LAST_GOOD_FILE = Path("models") / ".registry.last-good.json"
LOCK_FILE = Path("models") / ".registry.lock"
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
VERSION_FIELDS = ("version", "stage", "created_at", "git", "model", "metrics", "params_sha256", "data",
                  "vectors", "run_id")


def empty() -> dict:
    return {"schema_version": SCHEMA_VERSION, "models": []}


def _restore_hint(root: Path) -> str:
    if (root / LAST_GOOD_FILE).exists():
        return (f"restore the last good copy with `cp {LAST_GOOD_FILE} {REGISTRY_FILE}` "
                f"(or `git checkout {REGISTRY_FILE}`)")
    return f"restore it with `git checkout {REGISTRY_FILE}`"


def validate(data: object, rules: RegistryParams | None = None, where: str = str(REGISTRY_FILE)) -> dict:
    """Raise one RegistryError naming the first defect; return data unchanged if it is sound."""
    def bad(why: str) -> RegistryError:
        return RegistryError(f"model registry {where}: {why}")

    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        found = data.get("schema_version") if isinstance(data, dict) else None
        raise bad(f"schema_version is {found!r}, expected {SCHEMA_VERSION}")
    if not isinstance(data.get("models"), list):
        raise bad("'models' must be a list")
    seen = set()
    for model in data["models"]:
        if not isinstance(model, dict) or not isinstance(model.get("versions"), list):
            raise bad("every model needs a name and a list of versions")
        try:
            name = names.check_model_name(model.get("name"))
        except RegistryError as exc:
            raise bad(str(exc)) from None
        if name in seen:
            raise bad(f"model {name!r} appears twice")
        seen.add(name)
        versions = set()
        for entry in model["versions"]:
            _validate_version(entry, name, bad)
            if entry["version"] in versions:
                raise bad(f"{name} {entry['version']} appears twice")
            versions.add(entry["version"])
        if rules is not None:
            for entry in model["versions"]:
                if entry["stage"] not in rules.stages:
                    raise bad(f"{name} {entry['version']} is in stage {entry['stage']!r}, "
                              f"not one of {', '.join(rules.stages)} (conf/registry/)")
            in_production = [e["version"] for e in model["versions"] if e["stage"] == rules.production]
            if len(in_production) > 1:
                raise bad(f"{name} has {len(in_production)} versions in {rules.production} "
                          f"({', '.join(in_production)}); at most one is allowed")
    return data


def _validate_version(entry: object, name: str, bad) -> None:
    if not isinstance(entry, dict):
        raise bad(f"a version of {name} is not an object")
    missing = [key for key in VERSION_FIELDS if key not in entry]
    if missing:
        raise bad(f"a version of {name} lacks {', '.join(missing)}")
    try:
        names.check_version(entry["version"])
        names.check_stage_name(entry["stage"])
    except RegistryError as exc:
        raise bad(f"{name}: {exc}") from None
    model, git = entry["model"], entry["git"]
    if not isinstance(model, dict) or not SHA_RE.match(str(model.get("sha256"))):
        raise bad(f"{name} {entry['version']}: model.sha256 must be 64 hex digits")
    expected_dir = f"models/{name}/{entry['version']}/"
    if not isinstance(model.get("path"), str) or not model["path"].startswith(expected_dir) \
            or "/" in model["path"][len(expected_dir):] or model["path"].endswith("/"):
        raise bad(f"{name} {entry['version']}: model.path must be a file directly in {expected_dir}")
    if not isinstance(git, dict) or git.get("tag") != names.release_tag(name, entry["version"]):
        raise bad(f"{name} {entry['version']}: git.tag must be {names.release_tag(name, entry['version'])}")
    if not isinstance(git.get("commit"), str) or not COMMIT_RE.match(git["commit"]):
        raise bad(f"{name} {entry['version']}: git.commit must be a 40-hex commit id")
    for key in ("metrics", "data", "vectors"):
        if not isinstance(entry[key], dict):
            raise bad(f"{name} {entry['version']}: {key} must be an object")


def read(root: str | Path = ".", rules: RegistryParams | None = None) -> dict:
    """The registry, validated; an empty one if the file does not exist yet."""
    root = Path(root)
    path = root / REGISTRY_FILE
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return empty()
    except UnicodeDecodeError:
        raise RegistryError(f"model registry {path} is not UTF-8 text; {_restore_hint(root)}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"model registry {path} is not valid JSON (line {exc.lineno}: {exc.msg}); "
                            f"{_restore_hint(root)}") from None
    try:
        return validate(data, rules, str(path))
    except RegistryError as exc:
        raise RegistryError(f"{exc}; {_restore_hint(root)}") from None


def dumps(data: dict) -> str:
    """Sorted keys and indentation as jsonio.dumps, except that each version is one line.

    A stage change is then a one-line git diff, and the C JSON encoder does the work: with
    1,000 versions, fully indented output costs ~5x more and dominates a promote.
    """
    def line(value) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)

    models = []
    for model in sorted(data["models"], key=lambda m: m["name"]):
        rest = {k: v for k, v in model.items() if k != "versions"}
        fields = [f'      {line(k)}: {line(v)}' for k, v in sorted(rest.items())]
        versions = ",\n".join(f"        {line(v)}" for v in model["versions"])
        fields.append('      "versions": [\n' + versions + "\n      ]" if versions else '      "versions": []')
        models.append("    {\n" + ",\n".join(fields) + "\n    }")
    others = [f"  {line(k)}: {line(v)}" for k, v in sorted(data.items()) if k != "models"]
    body = '  "models": [\n' + ",\n".join(models) + "\n  ]" if models else '  "models": []'
    return "{\n" + ",\n".join([body, *others]) + "\n}\n"


def write(root: str | Path, data: dict, rules: RegistryParams | None = None, validated: bool = False) -> None:
    """Validate (unless the caller just did), then replace registry.json atomically and refresh
    the last-good copy."""
    root = Path(root)
    if not validated:
        validate(data, rules, "(about to be written)")
    text = dumps(data)
    jsonio.atomic_write_text(root / REGISTRY_FILE, text)
    jsonio.atomic_write_text(root / LAST_GOOD_FILE, text)


@contextmanager
def locked(root: str | Path, timeout: float) -> Iterator[None]:
    """Hold the registry's exclusive lock (filelock, an flock); wait up to `timeout` seconds for
    another holder. The holder's pid goes in a file beside the lock, for the error a waiter shows."""
    from filelock import FileLock, Timeout

    path = Path(root) / LOCK_FILE
    owner = path.with_name(path.name + ".owner")
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=timeout, poll_interval=0.005)  # promotes take ms: poll at that scale
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = owner.read_text(encoding="utf-8").strip() or "another process"
        except OSError:
            holder = "another process"
        raise RegistryError(
            f"the model registry is locked by {holder}; another registry command is running: "
            f"wait for it and retry (waited {timeout:g} s, see registry.lock_timeout)"
        ) from None
    try:
        owner.write_text(f"pid {os.getpid()} since {time.strftime('%H:%M:%S')}", encoding="utf-8")
        yield
    finally:
        owner.unlink(missing_ok=True)  # before the release, so it never names the next holder wrongly
        lock.release()


# ---- queries ----------------------------------------------------------------------------------

def find_model(data: dict, name: str) -> dict | None:
    return next((m for m in data["models"] if m["name"] == name), None)


def require_model(data: dict, name: str) -> dict:
    names.check_model_name(name)
    model = find_model(data, name)
    if model is None:
        known = ", ".join(m["name"] for m in data["models"]) or "none yet"
        raise RegistryError(f"no model {name!r} in the registry (known: {known}); release one with "
                            "`reprostack release <name>`")
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


def saved_state(root: Path) -> tuple[bytes | None, int | None]:
    """registry.json's bytes and the history log's size, to put back if a command fails."""
    path, log = root / REGISTRY_FILE, root / history.HISTORY_FILE
    return (path.read_bytes() if path.exists() else None), (log.stat().st_size if log.exists() else None)


def restore_state(root: Path, state: tuple[bytes | None, int | None]) -> None:
    """Undo a failed command: registry.json as it was, and only the history lines it appended dropped."""
    before, log_size = state
    if before is None:
        (root / REGISTRY_FILE).unlink(missing_ok=True)
    else:
        jsonio.atomic_write_bytes(root / REGISTRY_FILE, before)
    log = root / history.HISTORY_FILE
    if log.exists():
        if log_size is None:
            log.unlink()
        else:
            with open(log, "r+b") as handle:
                handle.truncate(log_size)
