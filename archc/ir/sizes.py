"""Dynamic shapes from the spec: which symbols stay dynamic, as which `torch.export.Dim`s, and the
sizes the artifacts are traced and verified at.

A symbol's valid sizes come from its declared range (`min`, `max`, `multiple_of`) and from the
constraints the ops derive (`H % 16 == 0`, `H >= 33`), evaluated exactly (`archc.ir.dims.satisfies`).
When the valid sizes are one arithmetic progression `m*k + r` (k >= k0), the symbol is exported as
`Dim("H_div16") * 16 + r`-style derived dim; a symbol whose valid sizes are not such a progression
(two residues, a constraint tying two symbols) stays static, with a warning.

Torch-free: this module only plans; `archc.export.formats.pt2` turns the plan into `Dim`s. It is
part of the IR so that verification (archc.codegen.verify) and the export build share it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from archc.diagnostics import Diagnostic
from archc.ir.dims import UnboundSymbol, satisfies
from archc.ir.graph import Graph

SCAN = 4096  # how far past a symbol's minimum valid sizes are enumerated to find its progression


@dataclass
class SymbolPlan:
    name: str
    example: int
    dynamic: bool
    lo: int                      # smallest exported size
    hi: int | None               # largest exported size (None: unbounded)
    step: int = 1                # sizes are lo, lo + step, ... (step > 1: a derived dim)
    export_size: int = 0         # the size the exporters trace at
    verify_sizes: list[int] = field(default_factory=list)
    note: str | None = None      # why it is static, or why its range was narrowed
    requested: bool = False      # named in --dynamic

    @property
    def residue(self) -> int:
        return self.lo % self.step

    def to_json(self) -> dict:
        return {"dynamic": self.dynamic, "example": self.example, "range": [self.lo, self.hi] if self.dynamic else None,
                "step": self.step if self.dynamic else None, "export_size": self.export_size,
                "verify_sizes": self.verify_sizes, "note": self.note}


def _single_constraints(graph: Graph, name: str) -> list:
    return [c for c in graph.constraints if c.symbols == (name,)]


def valid(graph: Graph, name: str, v: int, env: Mapping[str, int]) -> bool:
    """Whether `v` is a valid size of `name` (declared range and every derived constraint), the
    other symbols at `env`."""
    s = graph.symbols[name]
    r = s.range
    if v < max(1, r.min) or (r.max is not None and v > r.max) or v % max(1, r.multiple_of):
        return False
    e = dict(env)
    e[name] = v
    for d in graph.constraints:
        if name not in d.symbols:
            continue
        try:
            if not satisfies(d, e):
                return False
        except UnboundSymbol:
            return False
    return True


def _progression(values: list[int]) -> tuple[int, int] | None:
    """(first, step) if `values` is one arithmetic progression from its first element."""
    if not values:
        return None
    if len(values) == 1:
        return values[0], 0
    step = values[1] - values[0]
    if all(b - a == step for a, b in zip(values, values[1:])):
        return values[0], step
    return None


def _coupled(graph: Graph) -> dict[str, str]:
    """Symbols in constraints that tie several symbols together: name -> the constraint's text."""
    out: dict[str, str] = {}
    for d in graph.constraints:
        if len(d.symbols) > 1:
            for s in d.symbols:
                out.setdefault(s, d.text)
    return out


def plan(graph: Graph, dynamic: list[str] | None = None) -> tuple[dict[str, SymbolPlan], list[Diagnostic]]:
    """The export plan of every symbol. `dynamic=None`: every symbol that can be dynamic is;
    otherwise exactly the named ones (a named one that cannot be is an error)."""
    diags: list[Diagnostic] = []
    env = graph.example_env
    coupled = _coupled(graph)
    out: dict[str, SymbolPlan] = {}
    for name, s in graph.symbols.items():
        requested = dynamic is not None and name in dynamic
        want = dynamic is None or requested
        p = SymbolPlan(name, s.example, False, s.example, s.example, 1, s.example, [s.example], requested=requested)
        out[name] = p
        if not want:
            p.note = "static: not named in --dynamic"
            continue
        r = s.range
        lo = max(1, r.min)
        hi_scan = lo + SCAN if r.max is None else min(r.max, lo + SCAN)
        values = [v for v in range(lo, hi_scan + 1) if valid(graph, name, v, env)]
        why = None
        if name in coupled:
            why = f"a constraint ties it to another symbol (`{coupled[name]}`)"
        elif len(values) <= 1:
            why = "it has only one valid size"
        else:
            prog = _progression(values)
            if prog is None or prog[1] == 0:
                texts = [c.text for c in _single_constraints(graph, name)]
                why = ("its valid sizes (" + ", ".join(texts or ["declared range"]) + ") are not one arithmetic progression")
            else:
                p.lo, p.step = prog
                p.hi = r.max if r.max is None else max(v for v in values if (v - p.lo) % p.step == 0)
        if why is not None:
            p.note = f"static: {why}"
            sev = "error" if requested else "warning"
            diags.append(Diagnostic("ARC511", f"`{name}` cannot be exported dynamic: {why}; it is exported static at {name} = {s.example}",
                                    s.span, severity=sev, hint=None if requested else f"pass --dynamic without {name} to silence this"))
            continue
        p.dynamic = True
        choose_sizes(graph, p, env)
    return out, diags


def _valid_in_plan(graph: Graph, p: SymbolPlan, v: int, env: Mapping[str, int]) -> bool:
    if v < p.lo or (p.hi is not None and v > p.hi) or (v - p.lo) % p.step:
        return False
    return valid(graph, p.name, v, env)


def choose_sizes(graph: Graph, p: SymbolPlan, env: Mapping[str, int]) -> None:
    """The trace size (the example unless it is 0/1, which exporters specialise) and the second
    verification size: the next valid size above the example, or below when the range ends."""
    if not p.dynamic:
        p.export_size, p.verify_sizes = p.example, [p.example]
        return
    cand = [v for v in _around(p) if _valid_in_plan(graph, p, v, env)]
    ex = p.example if _valid_in_plan(graph, p, p.example, env) else (cand[0] if cand else p.lo)
    trace = ex if ex >= 2 else next((v for v in cand if v >= 2), ex)
    p.export_size = trace
    second = next((v for v in cand if v > ex and v != trace), None)
    if second is None:
        second = next((v for v in reversed(cand) if v < ex and v != trace and v >= 1), None)
    p.verify_sizes = [ex] + ([second] if second is not None else [])


def _around(p: SymbolPlan) -> list[int]:
    """Candidate sizes near the example, in increasing order."""
    base = p.example
    k = max(1, p.step)
    start = max(p.lo, base - 4 * k)
    start = p.lo + math.ceil((start - p.lo) / k) * k
    vals = list(range(start, base + 8 * k + 1, k))
    if p.hi is not None:
        vals = [v for v in vals if v <= p.hi]
    return vals


def envs(graph: Graph, plans: Mapping[str, SymbolPlan]) -> list[dict[str, int]]:
    """The verification environments: every symbol at its example, then every dynamic symbol at its
    second size (static symbols keep their example)."""
    first = {n: p.verify_sizes[0] for n, p in plans.items()}
    second = {n: (p.verify_sizes[1] if len(p.verify_sizes) > 1 else p.verify_sizes[0]) for n, p in plans.items()}
    out = [first]
    if second != first and all(_env_ok(graph, second)):
        out.append(second)
    return out


def _env_ok(graph: Graph, env: Mapping[str, int]):
    for d in graph.constraints:
        try:
            yield satisfies(d, env)
        except UnboundSymbol:
            yield False


def trace_env(plans: Mapping[str, SymbolPlan]) -> dict[str, int]:
    return {n: p.export_size for n, p in plans.items()}
