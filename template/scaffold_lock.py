"""A project's requirements.lock: the library pinned at the commit the project was rendered from,
and the closure of the packages it needs, taken offline from this repository's own lock.

The pin line is `reprostack[<extras>] @ git+<source>@<commit>`: pip installs the library from the
exact commit, so `dvc repro` in the project runs the code this template was tested with, and
moving the pin (cruft update) is the upgrade. The other lines are pip-compile's own pins of this
repository, kept when a package is a root (the library's dependencies, those of the extras the
project asks for, and what the project's own Makefile and tests run) or is required by ("# via")
a package kept. No resolver and no network: the versions are exactly the ones this repository's
tests ran with. Loaded by path by scaffold.py; standard library only (tomllib).
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import reprostack_template_edits as edits  # loaded by scaffold.py before this module

PACKAGE = edits.PACKAGE
# What the project's Makefile and tests run besides the library: pytest (`make test`), ruff
# (`make lint`), cruft (`make upgrade`, CI's `cruft check`), and pip and setuptools (`pip install --no-deps
# --no-build-isolation -e .` builds the project's own package with the pinned setuptools).
PROJECT_TOOLS = ("pytest", "ruff", "cruft", "pip", "setuptools")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    """`ray[data]>=2.60; python_version < '4'` -> `ray`."""
    return normalise(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec).group(1))


def parse_lock(text: str) -> dict[str, dict]:
    """pip-compile output -> {name: {"line": "name==1.0", "via": {names}, "external": bool}}.
    `external`: required by something other than a package (the library's pyproject.toml, -r file)."""
    packages: dict[str, dict] = {}
    current, in_via = None, False
    for line in text.splitlines():
        pin = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==\S+", line)
        if pin:
            current = packages.setdefault(
                normalise(pin.group(1)), {"line": line.strip(), "via": set(), "external": False}
            )
            in_via = False
            continue
        note = re.match(r"^\s+#\s+(via\s*)?(.*)$", line)
        if current is None or not note:
            current = None if not line.startswith(" ") else current
            continue
        if note.group(1):
            in_via = True
        if not in_via or not note.group(2).strip():
            continue
        parent = note.group(2).strip()
        if " " in parent or parent.startswith("-"):  # "reprostack (pyproject.toml)", "-r requirements.in"
            current["external"] = True
        else:
            current["via"].add(normalise(parent))
    return packages


def roots(root: Path, extras: list[str]) -> tuple[set[str], list[str]]:
    """The library's dependencies, its optional groups for `extras` (those it defines), and the
    project's tools; and the extras it defines (the others are in its core dependencies today)."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    known = [extra for extra in extras if extra in optional]
    specs = list(project.get("dependencies", [])) + [s for extra in known for s in optional[extra]]
    return {requirement_name(s) for s in specs} | set(PROJECT_TOOLS), known


def closure(packages: dict[str, dict], wanted: set[str]) -> list[str]:
    """Names of the wanted packages and, transitively, every package one of them requires."""
    kept = {name for name in wanted if name in packages}
    changed = True
    while changed:
        changed = False
        for name, info in packages.items():
            if name not in kept and info["via"] & kept:
                kept.add(name)
                changed = True
    return sorted(kept)


def pin_line(source: str, commit: str | None, extras: list[str]) -> str:
    """pip's direct reference; without a commit (a source that is not a git checkout) the
    library's directory itself, as it is when pip reads it."""
    marker = f"[{','.join(extras)}]" if extras else ""
    return f"{PACKAGE}{marker} @ " + (f"git+{source}@{commit}" if commit else source)


def render(root: Path, source: str, commit: str | None, extras: list[str]) -> str:
    wanted, known = roots(root, extras)
    packages = parse_lock((root / "requirements.lock").read_text(encoding="utf-8"))
    missing = sorted(w for w in wanted if w not in packages and w != PACKAGE)
    if missing:
        raise edits.ScaffoldError(
            f"requirements.lock does not pin {', '.join(missing)}, which pyproject.toml "
            "asks for; run `make lock` in the template repository and commit it"
        )
    lines = [packages[name]["line"] for name in closure(packages, wanted) if name != PACKAGE]
    return (
        "# The reprostack library at the commit this project was rendered from (`make upgrade` moves it),\n"
        "# and the exact versions of everything it needs, as the library's own tests ran them.\n"
        f"{pin_line(source, commit, known)}\n" + "\n".join(lines) + "\n"
    )


# ---- where the library comes from -------------------------------------------------------------


def git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def source_and_commit(root: Path, ctx: dict, url: str) -> tuple[str, str | None]:
    """The URL pip clones the library from and the commit: the URL cookiecutter cloned, else the
    checkout's absolute path (cruft renders from a temporary clone and passes the path it cloned
    as `_template`); cruft's `_commit` when cruft renders, else the checkout's HEAD (None for a
    source that is not a git checkout)."""
    template = str(ctx.get("_template", ""))
    if url:
        source = url
    elif "_commit" in ctx and Path(template).is_absolute():
        source = f"file://{template}"
    else:
        source = f"file://{root.resolve()}"
    if "_commit" in ctx:
        return source, ctx["_commit"]
    head = git(root, "rev-parse", "HEAD")
    top = git(root, "rev-parse", "--show-toplevel")
    if head.returncode or Path(top.stdout.strip()).resolve() != root.resolve():
        return source, None
    return source, head.stdout.strip()


def uncommitted(root: Path) -> bool:
    status = git(root, "status", "--porcelain", "--untracked-files=no")
    return status.returncode == 0 and bool(status.stdout.strip())
