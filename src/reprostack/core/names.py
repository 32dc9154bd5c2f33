"""Model names, stage names and versions: the rules in one place, checked at every boundary.

A model name becomes a directory (models/<name>/) and part of a git tag (name@v1.2.3,
name#stage#N), so it must be safe as both. The rules are a subset of GTO's, so every tag we
write is one `gto show` understands.
"""

from __future__ import annotations

import re

from reprostack.core.errors import RegistryError

MODEL_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")
STAGE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# Semantic versions with a leading v; no pre-release or build suffixes (they would not order
# the same way in GTO and here).
VERSION_RE = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
BUMPS = ("major", "minor", "patch")


def check_model_name(name: object) -> str:
    if not isinstance(name, str) or not MODEL_NAME_RE.match(name):
        raise RegistryError(
            f"invalid model name {name!r}: use 1-64 lowercase letters, digits, '-' or '_', "
            "starting and ending with a letter or digit (e.g. textclf)"
        )
    return name


def check_stage_name(stage: object) -> str:
    if not isinstance(stage, str) or not STAGE_RE.match(stage):
        raise RegistryError(
            f"invalid stage name {stage!r}: use 1-32 lowercase letters, digits, '-' or '_', starting with a letter"
        )
    return stage


def check_version(version: object) -> str:
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise RegistryError(f"invalid version {version!r}: use vMAJOR.MINOR.PATCH, e.g. v1.2.0")
    return version


def version_key(version: str) -> tuple[int, int, int]:
    major, minor, patch = VERSION_RE.match(version).groups()
    return int(major), int(minor), int(patch)


def bump(version: str | None, part: str) -> str:
    """The next version after `version` (None: the first release is v0.1.0 for minor/patch,
    v1.0.0 for major)."""
    if part not in BUMPS:
        raise RegistryError(f"invalid bump {part!r}: use one of {', '.join(BUMPS)}")
    major, minor, patch = version_key(version) if version else (0, 0, 0)
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}" if version else "v0.1.0"


def release_tag(name: str, version: str) -> str:
    """GTO's registration tag."""
    return f"{name}@{version}"


def parse_ref(ref: str) -> tuple[str, str | None]:
    """'name', 'name@production' or 'name@v1.2.0' -> (name, stage-or-version or None)."""
    name, _, which = ref.partition("@")
    check_model_name(name)
    if not which:
        return name, None
    if which.startswith("v") and VERSION_RE.match(which):
        return name, which
    return name, check_stage_name(which)
