"""Every package src/ imports is declared in pyproject.toml (a fresh `pip install .` must run
it) and pinned in requirements.lock."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from factories import REPO


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions() -> dict[str, str]:
    """{distribution: a module of src/ importing it} for every third-party import in src/."""
    by_module = packages_distributions()
    found = {}
    for path in sorted((REPO / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top == "reprostack":
                    continue
                for dist in by_module.get(top, [top]):
                    found.setdefault(canonical(dist), str(path.relative_to(REPO)))
    return found


def test_every_runtime_import_is_declared_and_locked():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {canonical(re.split(r"[<>=!~\[ ;]", dep, maxsplit=1)[0]) for dep in project["dependencies"]}
    locked = {canonical(line.split("==")[0]) for line in (REPO / "requirements.lock").read_text().splitlines()
              if "==" in line and not line.startswith(" ")}
    imported = imported_distributions()
    assert {"pydantic", "filelock", "scikit-learn", "pyyaml"} <= set(imported)  # the scan sees imports
    undeclared = {dist: where for dist, where in imported.items() if dist not in declared}
    assert undeclared == {}, f"imported by src/ but not in pyproject dependencies: {undeclared}"
    assert declared <= locked, f"declared but not in requirements.lock: {declared - locked}"
