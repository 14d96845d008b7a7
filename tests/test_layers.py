"""The package layering of archc (docs/architecture.md): no import cycle between packages, counting
imports inside functions too, and the IR a leaf that imports nothing of archc but the diagnostics."""
from __future__ import annotations

import ast
from pathlib import Path

ARCHC = Path(__file__).resolve().parent.parent / "archc"


def package_imports() -> dict[str, set[str]]:
    """archc package (or top-level module) -> the archc packages it imports, anywhere in its files."""
    graph: dict[str, set[str]] = {}
    for f in ARCHC.rglob("*.py"):
        rel = f.relative_to(ARCHC).parts
        me = rel[0].removesuffix(".py")
        deps = graph.setdefault(me, set())
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
                if node.module == "archc":
                    names = [f"archc.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for n in names:
                parts = n.split(".")
                if parts[0] == "archc" and len(parts) > 1 and parts[1] != me:
                    deps.add(parts[1])
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def dfs(n: str, stack: list[str]) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                found.append(stack[stack.index(d):] + [d])
            elif d not in state:
                dfs(d, stack)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            dfs(n, [])
    return found


def test_no_import_cycle_between_packages():
    assert cycles(package_imports()) == []


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_ir_is_a_leaf():
    g = package_imports()
    assert g["ir"] <= {"diagnostics"}, g["ir"]
    assert g["diagnostics"] <= {"errors"} and g["errors"] == set()


def test_layers_as_documented():
    """The front end never reaches the back end: spec, elaborate, ops and lint import no codegen,
    export, profile, parity or cli (they may be imported lazily by the pipeline only)."""
    g = package_imports()
    back = {"codegen", "export", "profile", "parity", "cli", "report", "draw", "api"}
    for front in ("spec", "elaborate", "ops", "lint", "session", "ir"):
        assert not (g[front] & back), (front, g[front] & back)
