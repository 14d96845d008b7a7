"""Dynamic shapes from the spec. The plan (which symbols stay dynamic, their ranges and the two sizes
per symbol the artifacts are traced and verified at) lives in `archc.ir.sizes`, which verification
uses too, so the export build and `archc check` verify at the same sizes. This module adds what only
the exporters need: reading the guards torch.export prints, in the spec's terms, and narrowing a
symbol's range to where a guard holds (the guard, digits and operators only once sizes are
substituted, is evaluated here: the IR itself never evaluates text)."""
from __future__ import annotations

import re
from typing import Mapping

from archc.ir.dims import evaluate, free_symbols
from archc.ir.graph import Graph
from archc.ir.sizes import (  # noqa: F401  (re-exported)
    SCAN, SymbolPlan, _single_constraints, valid, _progression, _coupled, plan, _valid_in_plan, choose_sizes,
    _around, envs, _env_ok, trace_env,
)


_SIZE_RE = re.compile(r"L\[['\"](\w+)['\"]\]\.(?:size\(\)|shape)\[(\d+)\]")


def axis_symbols(graph: Graph) -> dict[tuple[str, int], str]:
    """(input name, axis) -> the symbol that axis is exactly (for the inputs' plain-symbol dims)."""
    out: dict[tuple[str, int], str] = {}
    for name, inp in graph.inputs.items():
        for ax, d in enumerate(inp.type.shape):
            fs = free_symbols(d)
            if len(fs) == 1 and str(d) == next(iter(fs)):
                out[(name, ax)] = next(iter(fs))
    return out


def guard_in_spec_terms(graph: Graph, guard: str) -> str:
    axes = axis_symbols(graph)

    def sub(m: re.Match) -> str:
        return axes.get((m.group(1), int(m.group(2))), f"{m.group(1)}.shape[{m.group(2)}]")

    return _SIZE_RE.sub(sub, guard)


_INF_RE = re.compile(r"(Negative)?IntInfinity\(\)|\bint_oo\b")
_HUGE = str(10 ** 30)


def guard_holds(graph: Graph, guard: str, env: Mapping[str, int]) -> bool | None:
    """Evaluate a guard the exporter printed (Python syntax over input sizes) at `env`; None when it
    cannot be read."""
    try:
        shapes = {n: [evaluate(d, env) for d in i.type.shape] for n, i in graph.inputs.items()}
        expr = _SIZE_RE.sub(lambda m: str(shapes[m.group(1)][int(m.group(2))]), guard)
        expr = _INF_RE.sub(lambda m: ("-" if m.group(1) else "") + _HUGE, expr)   # `H <= IntInfinity()`
        if re.search(r"[A-Za-z_]", re.sub(r"\b(and|or|not|True|False|min|max|abs)\b", "", expr)):
            return None
        return bool(eval(expr, {"__builtins__": {}, "min": min, "max": max, "abs": abs}, {}))  # noqa: S307 - digits and operators only
    except Exception:
        return None


def narrow(graph: Graph, p: SymbolPlan, guard: str, env: Mapping[str, int]) -> int | None:
    """The smallest valid size from which `guard` holds for every later valid size in the scanned
    window, if that keeps the trace size (`p.lo` itself: the guard already holds on the whole
    range, e.g. a lower bound an earlier guard narrowed past); None otherwise."""
    top = p.lo + SCAN * p.step if p.hi is None else p.hi
    vals = [v for v in range(p.lo, top + 1, p.step) if valid(graph, p.name, v, env)][: SCAN]
    ok = []
    for v in vals:
        e = dict(env)
        e[p.name] = v
        h = guard_holds(graph, guard, e)
        if h is None:
            return None
        ok.append(h)
    for i in range(len(vals)):
        if all(ok[i:]):
            new_lo = vals[i]
            return new_lo if new_lo <= p.export_size else None
    return None

