"""Every package src/ imports is declared in pyproject.toml (a fresh `pip install .` must run
it, or `pip install '.[extra]'` for what an optional extra covers) and pinned in
requirements.lock; the extras in pyproject.toml are exactly the ones core/extras.py checks."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from factories import REPO

from reprostack.core import extras


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


def requirement_names(requirements: list[str]) -> set[str]:
    return {canonical(re.split(r"[<>=!~\[ ;]", dep, maxsplit=1)[0]) for dep in requirements}


def test_every_runtime_import_is_declared_and_locked():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional = {extra: requirement_names(deps) for extra, deps in project["optional-dependencies"].items()}
    declared = requirement_names(project["dependencies"])
    in_extras = set().union(*(optional[extra] for extra in extras.EXTRAS))
    locked = {
        canonical(line.split("==")[0])
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith(" ")
    }
    imported = imported_distributions()
    assert {"pydantic", "filelock", "scikit-learn", "pyyaml", "fastapi", "ray"} <= set(
        imported
    )  # the scan sees imports
    undeclared = {dist: where for dist, where in imported.items() if dist not in declared | in_extras}
    assert undeclared == {}, f"imported by src/ but not in pyproject dependencies or an extra: {undeclared}"
    assert declared | in_extras <= locked, f"declared but not in requirements.lock: {(declared | in_extras) - locked}"


def test_the_extras_are_what_the_library_checks_and_dev_installs_them_all():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    assert set(optional) == {*extras.EXTRAS, "dev"}
    by_module = packages_distributions()
    for extra, modules in extras.EXTRAS.items():
        # each module the library checks for comes from a distribution that extra declares
        dists = {canonical(d) for module in modules for d in by_module.get(module, [module])}
        assert dists <= requirement_names(optional[extra]), f"extra {extra}: {dists} vs {optional[extra]}"
        # and nothing the base install declares: a missing extra must really be missing
        assert not requirement_names(optional[extra]) & requirement_names(project["dependencies"]), extra
    assert f"reprostack[{','.join(sorted(extras.EXTRAS))}]" in optional["dev"]  # the tests use every extra
