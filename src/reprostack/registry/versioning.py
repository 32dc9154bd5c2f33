"""Semantic versioning of releases: major when the model's interface changes (label set,
embedding model or dimension: callers must change), minor for a retrained model with the same
interface (new data, params or code), patch for the same model file with corrected metadata.
The default bump is the smallest one the change allows; asking for a smaller one is refused.
"""

from __future__ import annotations

from reprostack.core import names
from reprostack.core.errors import ReleaseError
from reprostack.registry import catalog

BUMP_ORDER = {"patch": 0, "minor": 1, "major": 2}


def required_bump(previous: dict | None, prov: dict) -> str:
    if previous is None:
        return "minor"
    interface_then = (
        previous["model"].get("classes"),
        previous.get("embedding", {}).get("model"),
        previous.get("embedding", {}).get("dimension"),
    )
    interface_now = (prov["card"].get("classes"), prov["embedding"]["model"], prov["embedding"]["dimension"])
    if interface_then != interface_now:
        return "major"
    return "minor" if previous["model"]["sha256"] != prov["card"]["sha256"] else "patch"


def choose_version(data: dict, name: str, prov: dict, version: str | None, bump: str | None) -> str:
    model = catalog.find_model(data, name)
    for entry in model["versions"] if model else []:
        if entry["model"]["sha256"] == prov["card"]["sha256"] and entry["params_sha256"] == prov["params_sha256"]:
            raise ReleaseError(
                f"the candidate is already released as {name} {entry['version']} (same model sha256 "
                "and params); train a new one first"
            )
    latest = catalog.latest_version(data, name)
    previous = next(v for v in model["versions"] if v["version"] == latest) if latest else None
    needed = required_bump(previous, prov)
    if version is None:
        if bump is not None and BUMP_ORDER[bump] < BUMP_ORDER[needed]:
            _too_small(name, bump, needed, latest)
        return names.bump(latest, bump or needed)
    names.check_version(version)
    if latest and names.version_key(version) <= names.version_key(latest):
        raise ReleaseError(f"{name} {version} is not newer than the latest release {latest}; versions only go up")
    if latest and names.version_key(version) < names.version_key(names.bump(latest, needed)):
        _too_small(name, version, needed, latest)
    return version


def _too_small(name: str, asked: str, needed: str, latest: str | None):
    raise ReleaseError(
        f"{asked} is too small a step from {name} {latest}: this candidate needs a {needed} bump "
        "(see the versioning policy in the README)"
    )
