"""dvc.yaml's deps keep in step with the code: each stage depends on every reprostack module it
can run, so an edit in a shared module re-runs exactly the stages that import it."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest
import yaml
from factories import REPO

SRC = REPO / "src"


def module_file(name: str) -> Path | None:
    """The source file of a reprostack module or package, None when there is none."""
    base = SRC.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported(path: Path, name: str) -> set[str]:
    """reprostack modules a module imports anywhere in it (inside functions too), with the
    packages whose __init__ each import runs."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # a submodule, if it is one
    modules = {m for m in found if m.split(".")[0] == "reprostack" and module_file(m)}
    return {".".join(m.split(".")[:i]) for m in modules for i in range(1, m.count(".") + 2)}


@functools.cache
def closure(start: str) -> frozenset[Path]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(imported(module_file(name), name) - seen)
    return frozenset(module_file(name) for name in seen)


def stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(REPO).as_posix()
    return any(rel == dep.rstrip("/") or rel.startswith(dep.rstrip("/") + "/") for dep in deps)


def inert(path: Path) -> bool:
    """A package __init__ that imports nothing (a docstring, maybe __version__): no stage can
    change behaviour through it."""
    tree = ast.parse(path.read_text())
    return path.name == "__init__.py" and not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))


@pytest.mark.parametrize("stage", sorted(stages()))
def test_each_stage_depends_on_every_reprostack_module_it_imports(stage):
    spec = stages()[stage]
    entry = re.fullmatch(r"python -m (reprostack\.stages\.\w+)", spec["cmd"])
    assert entry, f"stage {stage}: cmd {spec['cmd']!r} is not `python -m reprostack.stages.<name>`"
    deps = [dep for dep in spec["deps"] if isinstance(dep, str)]
    missing = sorted(
        p.relative_to(REPO).as_posix() for p in closure(entry.group(1)) if not covered(p, deps) and not inert(p)
    )
    assert missing == [], f"dvc.yaml stage {stage} imports these but does not depend on them: {missing}"


def test_the_import_walk_sees_deferred_and_from_imports():
    # the check above is only as good as this walk: a function-level `from x import y` must count
    found = closure("reprostack.stages.embed")
    rels = {p.relative_to(SRC).as_posix() for p in found}
    assert {"reprostack/stages/embed.py", "reprostack/vectors/update.py", "reprostack/data/__init__.py"} <= rels
    assert not covered(SRC / "reprostack/fields.py", ["src/reprostack/field", "src/reprostack/core/fields.pyc"])


@pytest.mark.parametrize("stage", sorted(stages()))
def test_each_stage_depends_on_no_library_code_it_does_not_import(stage):
    """The other half of "exactly": a library edit must not re-run a stage that never runs it."""
    spec = stages()[stage]
    used = {p.relative_to(REPO).as_posix() for p in closure(spec["cmd"].split()[-1])}
    deps = [dep.rstrip("/") for dep in spec["deps"] if isinstance(dep, str) and dep.startswith("src/")]
    unused = [dep for dep in deps if not any(path == dep or path.startswith(dep + "/") for path in used)]
    assert unused == [], f"dvc.yaml stage {stage} depends on library code it never imports: {unused}"
