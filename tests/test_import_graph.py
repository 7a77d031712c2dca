"""The package's import graph has no cycles, and discovery knows no input format.

import-linter's contracts (pyproject.toml) keep the layers apart; this test keeps every
module of the package out of any import circle (a circle such as hcl_fast -> hcl_parse ->
hcl_fast makes the import order decide what works), counting imports inside functions too.
"""

from __future__ import annotations

import grimp

PACKAGE = "talosaudit"


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert import_cycles(graph) == [["pkg.a", "pkg.b"]]


def test_no_import_cycles_in_the_package() -> None:
    assert import_cycles(grimp.build_graph(PACKAGE)) == []


def test_discovery_imports_no_collector_internals() -> None:
    graph = grimp.build_graph(PACKAGE)
    imported = graph.find_modules_directly_imported_by("talosaudit.collectors.discover")
    assert sorted(m for m in imported if m.startswith("talosaudit.collectors")) == [
        "talosaudit.collectors.base",
        "talosaudit.collectors.registry",
    ]
