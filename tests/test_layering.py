"""The package's import graph has no cycles, and handlers call the engine only.

A cycle (a part importing the engine that imports it, a client module importing the
session that imports the client) is how "narrow inputs" erode: every module of a cycle
can reach every other. grimp builds the graph from the source, counting imports under
``TYPE_CHECKING`` and inside functions too, so a cycle hidden behind either still fails
here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

import voxmem

Graph = dict[str, set[str]]


def _import_graph() -> Graph:
    graph = grimp.build_graph("voxmem", cache_dir=None)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def _cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
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


def test_finder_reports_a_cycle() -> None:
    # The check itself must be able to fail.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_voxmem_has_no_import_cycles() -> None:
    assert _cycles(_import_graph()) == []


# -- handlers call the engine, not its parts ---------------------------------------------
#: What a handler may read through the engine besides its methods: configuration.
ENGINE_DATA = {"settings"}


def _is_engine(node: ast.expr) -> bool:
    # ``engine`` itself, or an attribute named so (``self.engine`` in the dashboard).
    return ((isinstance(node, ast.Name) and node.id == "engine")
            or (isinstance(node, ast.Attribute) and node.attr == "engine"))


def _reaches_past_the_engine(source: str) -> list[str]:
    """``engine.<part>.<anything>`` in ``source``: a handler using a part directly."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                and _is_engine(node.value.value) and node.value.attr not in ENGINE_DATA):
            found.append(f"engine.{node.value.attr}.{node.attr} (line {node.lineno})")
    return found


def test_the_handler_check_finds_a_bypass() -> None:
    assert _reaches_past_the_engine("async def h(engine):\n"
                                    "    return await engine.store.list_facts(s)\n") == [
        "engine.store.list_facts (line 2)"]
    assert _reaches_past_the_engine("async def h(engine):\n"
                                    "    return await engine.list_facts(s)\n") == []
    assert _reaches_past_the_engine("async def v(self):\n"
                                    "    return await self.engine.store.list_projects()\n") == [
        "engine.store.list_projects (line 2)"]


def test_operation_handlers_call_the_engine_only() -> None:
    package = Path(voxmem.__file__).parent
    modules = [*package.glob("_operations*.py"), *(package / "runtime").rglob("*.py")]
    assert len(modules) > 5
    for module in sorted(modules):
        assert _reaches_past_the_engine(module.read_text(encoding="utf-8")) == [], module.name
