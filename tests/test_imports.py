"""No import cycles in reprostack, between modules or between its top-level packages.

The graph counts every import a module makes, anywhere in it (inside functions and under
TYPE_CHECKING too): a cycle hidden in a function still ties two modules together, and works only
while nobody moves the import to the top. `from pkg import name` is an edge to the submodule
`pkg.name` when there is one, else to `pkg` itself (its __init__); importing a submodule runs its
parent's __init__ first, which is Python's order, not a dependency, so that is no edge.

Packages: core is what every package stands on and imports none of them; the rest form one
order (a package imports only packages below it).
"""

from __future__ import annotations

import ast
from pathlib import Path

from factories import REPO

SRC = REPO / "src"


def modules(src: Path = SRC) -> dict[str, Path]:
    found = {}
    for path in sorted((src / "reprostack").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names)
    edges = set()
    for target in targets:
        while target and target not in known:  # reprostack.x.y.attr -> the module that defines it
            target = target.rpartition(".")[0]
        if target and target != name:
            edges.add(target)
    return edges


def graph(src: Path = SRC) -> dict[str, set[str]]:
    known = modules(src)
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of two or more nodes (Tarjan), as a path
    that starts and ends at the same node, so the message shows how it closes."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_loop(min(component), edges, component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _loop(start: str, edges: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest path start -> ... -> start inside the component (breadth first)."""
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for nxt in sorted(edges.get(path[-1], ()) & component):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                paths.append(path + [nxt])
    raise AssertionError(f"{start} is in a cycle but no path returns to it")


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "reprostack"


def package_graph(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for module, targets in edges.items():
        found.setdefault(package_of(module), set()).update(
            package_of(t) for t in targets if package_of(t) != package_of(module)
        )
    return found


def test_no_module_imports_itself_back():
    found = cycles(graph())
    assert found == [], "import cycles: " + "; ".join(" -> ".join(c) for c in found)


def test_no_two_packages_import_each_other():
    packages = package_graph(graph())
    found = cycles(packages)
    assert found == [], "package cycles: " + "; ".join(" -> ".join(c) for c in found)


def test_core_imports_no_domain_package():
    packages = package_graph(graph())
    assert {"core", "data", "registry", "cli"} <= set(packages)  # the walk saw the packages
    # reprostack/__init__ is the version only; core may read it
    assert packages["core"] - {"reprostack"} == set(), f"core imports {sorted(packages['core'])}"


def test_the_walk_finds_deferred_typing_and_package_cycles(tmp_path):
    """The checks above are only as good as this walk: a cycle closed by an import inside a
    function, one under TYPE_CHECKING, and one through a package __init__ are all found."""
    pkg = tmp_path / "reprostack"
    for rel, text in {
        "__init__.py": "",
        "a/__init__.py": "from reprostack.a.x import X\n",
        "a/x.py": "def f():\n    from reprostack.b import y\nX = 1\n",
        "a/z.py": "from reprostack.a import X\n",  # the package's __init__, which imports x... not z
        "b/__init__.py": "",
        "b/y.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from reprostack.a.x import X\n",
        "c/__init__.py": "",
        "c/p.py": "from reprostack.a import z\n",
        "c/q.py": "from reprostack import a\nimport reprostack.c.p\n",
    }.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    edges = graph(tmp_path)
    assert edges["reprostack.a.z"] == {"reprostack.a"} and edges["reprostack.c.p"] == {"reprostack.a.z"}
    assert cycles(edges) == [["reprostack.a.x", "reprostack.b.y", "reprostack.a.x"]]
    assert cycles(package_graph(edges)) == [["a", "b", "a"]]
    (pkg / "a/x.py").write_text("X = 1\n")
    (pkg / "a/__init__.py").write_text("from reprostack.a.x import X\nfrom reprostack.a import z\n")
    assert cycles(graph(tmp_path)) == [["reprostack.a", "reprostack.a.z", "reprostack.a"]]
