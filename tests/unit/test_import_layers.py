"""The import graph of `src/abacus`: no cycles, and layers that point one way (docs/architecture.md).

Read from the source with `ast`, so lazy imports inside functions count too: hiding a cycle in a function body
does not make it go away."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "abacus"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((SRC / PACKAGE).rglob("*.py"))}


def _imported(node: ast.AST, current: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = current.split(".") if is_package else current.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        # `from package import module` imports the module; `from module import name` the module itself
        return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base for alias in node.names]
    return []


@cache
def import_graph(module_level_only: bool) -> dict[str, frozenset[str]]:
    graph = {}
    for name, path in modules().items():
        tree = ast.parse(path.read_text(), filename=str(path))
        nodes = tree.body if module_level_only else list(ast.walk(tree))
        targets = set()
        for node in nodes:
            for target in _imported(node, name, path.name == "__init__.py"):
                if target.startswith(f"{PACKAGE}.") and target in modules() and target != name:
                    targets.add(target)
        graph[name] = frozenset(targets)
    return graph


def cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def unit(module: str) -> str:
    """The top-level part of abacus a module belongs to: `abacus.sync.windows` → `sync`."""
    return module.split(".")[1] if module.count(".") >= 1 else module


def test_the_graph_sees_the_package():
    graph = import_graph(False)
    assert len(graph) > 50
    assert "abacus.providers.runner" in graph["abacus.worker.tasks"]


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}) == [
        ["a", "b", "c"]
    ]


@pytest.mark.parametrize("module_level_only", [True, False], ids=["module-level", "including-lazy-imports"])
def test_no_module_import_cycles(module_level_only: bool):
    assert cycles(import_graph(module_level_only)) == []


def test_no_cycles_between_parts_of_the_package():
    graph: dict[str, set[str]] = {}
    for module, targets in import_graph(False).items():
        graph.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    assert cycles({name: frozenset(targets) for name, targets in graph.items()}) == []


# Which parts of the package a part may NOT import (inner layers never reach outwards).
FORBIDDEN = {
    "domain": {"*"},  # pure: only other domain modules
    "records": {"*"},
    "rollups": {"sync", "providers", "services", "queries", "web", "worker", "cli", "emulators"},
    "sync": {"providers", "queries", "web", "worker", "cli", "emulators"},
    "services": {"sync", "providers", "queries", "web", "worker", "cli", "emulators"},
    "providers": {"queries", "web", "worker", "cli", "emulators"},
    "queries": {"sync", "services", "web", "worker", "cli", "emulators"},
    "emulators": {"sync", "services", "queries", "web", "worker", "cli"},
    "worker": {"web", "cli", "queries"},
    "web": {"cli", "emulators"},
}


def layer_violations() -> list[str]:
    found = []
    for module, targets in import_graph(False).items():
        rules = FORBIDDEN.get(unit(module), set())
        for target in sorted(targets):
            other = unit(target)
            if other != unit(module) and ("*" in rules or other in rules):
                found.append(f"{module} → {target}")
    return found


def test_layers_point_inwards():
    assert layer_violations() == []


CONTROLLERS = ("abacus.web.pages.", "abacus.web.api.", "abacus.web.exports.")


def test_controllers_do_not_import_other_controllers():
    offenders = [
        f"{module} → {target}"
        for module, targets in import_graph(False).items()
        if module.startswith(CONTROLLERS)
        for target in sorted(targets)
        if target.startswith(CONTROLLERS)
    ]
    assert offenders == []
