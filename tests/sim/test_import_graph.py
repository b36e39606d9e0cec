"""The simulator's modules import each other without a circle.

State objects (tokens, inbox, publishing desk, ...) know nothing of requests; handlers and
the pipeline import them, never the other way round. A circle, even a type-only one under
``if TYPE_CHECKING:`` or an import inside a function, means a module cannot be read, tested
or moved on its own, so this test reads every import statement with ``ast`` and fails
naming the circle.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

PACKAGE = "graph_api_sim"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / "include" / PACKAGE


def module_name(path: Path, package_dir: Path) -> str:
    """``handlers/tokens.py`` -> ``graph_api_sim.handlers.tokens``; a package is named by its ``__init__``."""
    parts = [PACKAGE, *path.relative_to(package_dir).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, importer: str, is_package: bool, known: set[str]) -> set[str]:
    """Modules of the package that ``tree`` imports anywhere (top level, functions, TYPE_CHECKING blocks).

    Parent packages that Python initialises on the way to a submodule are not counted: the
    package ``__init__`` re-exports the public names, every module sits below it.
    """
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = importer.split(".")
                if not is_package:
                    anchor = anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            for alias in node.names:  # ``from . import catalog`` imports the module catalog
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {name for name in found if name in known}


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports."""
    paths = {module_name(path, package_dir): path for path in package_dir.rglob("*.py")}
    known = set(paths)
    return {
        name: imported_modules(ast.parse(path.read_text(), str(path)), name, path.name == "__init__.py", known)
        - {name}
        for name, path in paths.items()
    }


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import circle as ``[a, b, ..., a]``, or None when the graph is acyclic (depth-first search)."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(module: str) -> list[str] | None:
        path.append(module)
        on_path.add(module)
        for target in sorted(graph.get(module, ())):
            if target in on_path:
                return [*path[path.index(target):], target]
            if target not in done:
                cycle = visit(target)
                if cycle:
                    return cycle
        on_path.discard(module)
        path.pop()
        done.add(module)
        return None

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def test_the_simulator_has_no_import_circle() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.simulator" in graph and f"{PACKAGE}.tokens" in graph  # the walk found the package
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or ())


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    package = tmp_path / PACKAGE
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from .a import A\n")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub import b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("def f():\n    from .. import c\n")
    (package / "c.py").write_text("import graph_api_sim.a\n")
    graph = import_graph(package)
    assert graph["graph_api_sim.a"] == {"graph_api_sim.sub.b"}
    assert graph["graph_api_sim.sub.b"] == {"graph_api_sim.c"}
    assert find_cycle(graph) == ["graph_api_sim.a", "graph_api_sim.sub.b", "graph_api_sim.c", "graph_api_sim.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None
