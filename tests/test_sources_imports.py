"""``kprlink.sources`` imports one way: readers -> validation -> delivery -> import.

Every import counts, also those inside functions (a lazy import hides a circle,
it does not remove it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import kprlink.sources as src

ROOT = Path(src.__file__).parent
#: Lowest first: no module imports one later in the list (directly or through others).
CHAIN = ["readers", "validation", "canonical", "extract", "delivery", "_import_stream",
         "importing", "lazy"]


def _graph() -> dict[str, set[str]]:
    """Module -> the kprlink.sources modules it imports (anywhere in its text)."""
    names = {p.stem for p in ROOT.glob("*.py")}
    out: dict[str, set[str]] = {}
    for path in ROOT.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[:2] != ["kprlink", "sources"]:
                    continue
                if len(parts) == 2:  # from kprlink.sources import npr, keyfile
                    deps |= {a.name for a in node.names if a.name in names}
                else:
                    deps.add(parts[2])
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[2] for a in node.names
                         if a.name.startswith("kprlink.sources.")}
        out[path.stem] = deps - {path.stem}
    return out


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_sources_has_no_import_circle():
    graph = _graph()
    assert {"readers", "validation", "delivery", "importing"} <= set(graph)
    circles = sorted(m for m in graph if m in _reach(graph, m))
    assert circles == []


def test_sources_imports_run_one_way():
    graph = _graph()
    for i, low in enumerate(CHAIN):
        above = set(CHAIN[i + 1:])
        assert not _reach(graph, low) & above, (low, _reach(graph, low) & above)
    # contracts and text helpers are at the bottom: they import no reader at all
    for base in ("_contract", "_encoding", "_keys", "_registry", "kpr_kuhr", "npr"):
        assert not _reach(graph, base) & set(CHAIN), base


def test_the_graph_sees_lazy_imports():
    """A function-level import is an edge too (the check cannot pass by hiding one)."""
    graph = _graph()
    assert "delivery" in graph["lazy"]  # lazy.py imports delivery inside its methods


def test_sources_imports_nothing_above_it():
    """The house is one-way (sources -> linkage -> cohorts -> ...): sources imports
    only itself, the exceptions, the atomic writer, the engine switch and the numpy-only
    unique helper."""
    allowed = {"kprlink.exceptions", "kprlink._atomic", "kprlink._engine", "kprlink._unique"}
    upward = []
    for path in ROOT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = ([node.module] if isinstance(node, ast.ImportFrom) and node.module
                    else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            upward += [(path.name, m) for m in mods if m.startswith("kprlink")
                       and not m.startswith("kprlink.sources") and m not in allowed]
    assert upward == []
