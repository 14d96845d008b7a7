"""The end of elaboration: outputs, weight ties, and the constraints the ops derived.

Functions of the walk: each takes the `Elaborator` (`el`) and extends its `State` (`el.st`).
"""
from __future__ import annotations

import difflib
from typing import Any

from archc.diagnostics import Related
from archc.ir import dims as D
from archc.elaborate.control import Abort as _Abort
from archc.elaborate.control import ForwardRef as _ForwardRef
from archc.ir.graph import ConstraintOrigin, GraphOutput, Tie, ValueRef, param_key


def resolve_outputs(el: Any, scope: Any, last: ValueRef | None) -> dict[str, GraphOutput]:
    m, f = el.model, el.main
    outs: dict[str, GraphOutput] = {}
    if not m.outputs:
        if last is not None:
            outs["output"] = GraphOutput("output", last, None, None)
        return outs
    for name, o in m.outputs.items():
        src = o if isinstance(o, str) else o.from_
        kind = None if isinstance(o, str) else o.kind
        span = f.value_span(("outputs", name) if isinstance(o, str) else ("outputs", name, "from"))
        try:
            ref = el.resolve_ref(src, scope, span, {}, f"output {name}")
        except (_Abort, _ForwardRef):
            continue
        outs[name] = GraphOutput(name, ref, kind, f.key_span(("outputs", name)))
    return outs


def check_ties(el: Any) -> None:
    m, f = el.model, el.main
    el.st.ties: list[Tie] = []
    shapes = {}
    for n in el.st.nodes:
        for k, s in n.params.items():
            shapes[param_key(n.path, k)] = s
    for j, t in enumerate(m.ties):
        span = f.value_span(("ties", j))
        bad = False
        for key in ("param", "to"):
            name = getattr(t, key)
            if name not in shapes:
                close = difflib.get_close_matches(name, list(shapes), n=1)
                el.error("ARC118", f"tie `{key}: {name}` names no parameter", f.value_span(("ties", j, key)),
                           hint=f"did you mean `{close[0]}`?" if close else None)
                bad = True
        if bad:
            continue
        if shapes[t.param] != shapes[t.to]:
            el.error("ARC118", f"cannot tie `{t.param}` {list(shapes[t.param])} to `{t.to}` {list(shapes[t.to])}: shapes differ", span)
            continue
        el.st.ties.append(Tie(t.param, t.to, span))


def check_constraints(el: Any) -> list[D.Derived]:
    if not el.st.constraints:
        return []
    ranges = {s.name: s.range for s in el.st.symbols.values()}
    derived = D.describe_constraints(el.st.constraints, ranges)
    for d in derived:
        if D.satisfies(d, el.st.example_env):
            continue
        syms = ", ".join(f"{s} = {el.st.example_env[s]}" for s in d.symbols)
        related = []
        for c in d.constraints:
            if D.evaluate(c.lhs, el.st.example_env) == D.evaluate(c.rhs, el.st.example_env):
                continue
            o: ConstraintOrigin = c.origin
            related.append(Related(
                f"`{o.node}`: {o.what} is {D.evaluate(c.lhs, el.st.example_env)} (`{D.dim_str(c.lhs)}`) "
                f"vs {D.evaluate(c.rhs, el.st.example_env)} (`{D.dim_str(c.rhs)}`)", o.span))
        hint = None
        if len(d.symbols) == 1 and d.modulus and d.residues:
            s = d.symbols[0]
            v = el.st.example_env[s]
            cands = [x for x in range(max(1, v - 4 * d.modulus), v + 4 * d.modulus) if x % d.modulus in d.residues
                     and (d.min_value is None or x >= d.min_value)]
            near = sorted(cands, key=lambda x: (abs(x - v), x))[:2]
            if near:
                hint = f"the nearest valid sizes are {' and '.join(str(x) for x in sorted(near))}"
        span = None
        if len(d.symbols) >= 1:
            s = d.symbols[0]
            span = el.st.override_spans.get(s) or el.main.value_span(("symbols", s, "example")) or el.st.symbols[s].span
        el.error("ARC203", f"{syms} does not satisfy `{d.text}`, which this spec's ops require", span,
                   hint=hint, related=tuple(related[:4]))
    return derived
