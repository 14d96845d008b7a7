"""The end of elaboration: outputs, weight ties, and the constraints the ops derived.

Functions of the walk: each takes the `Elaborator` (`el`) and extends its `State` (`el.st`).
"""
from __future__ import annotations

import difflib
from itertools import islice
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
    by_head: dict[str, list[str]] = {}   # "did you mean" candidates by a name's first component
    for n in el.st.nodes:
        for k, s in n.params.items():
            key = param_key(n.path, k)
            shapes[key] = s
            by_head.setdefault(key.split(".", 1)[0], []).append(key)
    for j, t in enumerate(m.ties):
        span = f.value_span(("ties", j))
        bad = False
        for key in ("param", "to"):
            name = getattr(t, key)
            if name not in shapes:
                near = by_head.get(str(name).split(".", 1)[0]) or list(islice(shapes, 256))
                close = difflib.get_close_matches(name, near[:256], n=1)
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
    joins = _WrongJoins(el, ranges)
    for d in derived:
        if len(d.symbols) == 1 and d.residues == frozenset():
            # no size works: report the node where that became so (a join of two sizes), not the
            # symbol; the constraints downstream of it only repeat the mistake
            for rest in joins.find(d):
                _report_unsatisfied(el, rest)
            continue
        _report_unsatisfied(el, d)
    joins.report()
    return derived


def _report_unsatisfied(el: Any, d: D.Derived) -> None:
    """ARC203 when the example sizes do not satisfy `d` (pointing at the symbol's example)."""
    if D.satisfies(d, el.st.example_env):
        return
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


class _WrongJoins:
    """The nodes whose requirements no size of a symbol satisfies (typically a `from:` that joins
    tensors of two levels of a U-Net), one diagnostic each (every symbol and dim it fails on), and
    the nodes downstream of them, whose failures only repeat the mistake (not reported)."""

    def __init__(self, el: Any, ranges: dict):
        self.el, self.ranges = el, ranges
        self.found: dict[str, list[D.Constraint]] = {}   # node path -> its impossible constraints
        self.downstream: set[str] = set()                # nodes fed (transitively) by a found node
        self._users: dict[str, list[str]] | None = None

    def users(self) -> dict[str, list[str]]:
        if self._users is None:
            self._users = {}
            for n in self.el.st.nodes:
                for r in n.inputs:
                    if not r.is_input:
                        self._users.setdefault(r.node, []).append(n.path)
        return self._users

    def _mark(self, node: str) -> None:
        users = self.users()
        stack = list(users.get(node, ()))
        while stack:
            p = stack.pop()
            if p not in self.downstream:
                self.downstream.add(p)
                stack.extend(users.get(p, ()))

    def find(self, d: D.Derived) -> list[D.Derived]:
        """Record the impossible constraints of one symbol's group; what is left of the group (no
        cascade, nothing impossible) comes back to be checked against the example sizes."""
        (name,) = d.symbols
        rng = self.ranges.get(name, D.SymbolRange())
        cs = [c for c in d.constraints if _node(c) not in self.downstream]
        while True:
            k = D.first_unsatisfiable(name, cs, rng)
            if k is None:
                break
            culprit = _node(cs[k])
            self.found.setdefault(culprit, []).append(cs[k])
            self._mark(culprit)
            cs = cs[:k] + [c for c in cs[k + 1:] if _node(c) not in self.downstream]
        return D.describe_constraints(cs, self.ranges) if cs else []

    def report(self) -> None:
        for node, cs in self.found.items():
            self.el.error(*_join_diagnostic(self.el, node, cs))


def _node(c: D.Constraint) -> str | None:
    o = c.origin
    return o.node if isinstance(o, ConstraintOrigin) else None


def _prefixes(path: str) -> list[str]:
    """`a`, `a.b`, `a.b.c` for `a.b.c`: the scopes (and the node) a node path lies in, outermost first."""
    parts = path.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _chosen_at(join: str, ref: ValueRef) -> str:
    """The outermost scope (or the join itself) on the join's path that `ref` comes into from
    outside: the node whose `from:` named it."""
    for q in _prefixes(join):
        if ref.is_input or not (ref.node == q or ref.node.startswith(q + ".")):
            return q
    return join


def _name_in(parent: str, q: str, ref: ValueRef) -> str:
    """The name of `ref` as a reader of scope `parent` ("" at the top) sees it: the name a `from:`
    there uses (`down1`, for the output of `down1.conv.relu2`) for a value from outside `q`, the
    path below `parent` (`up2.upconv`) for one made inside `q`."""
    if ref.is_input:
        return ref.node
    rest = ref.node[len(parent) + 1:] if parent and ref.node.startswith(parent + ".") else ref.node
    inside = ref.node == q or ref.node.startswith(q + ".")
    base = rest if inside else rest.split(".", 1)[0]
    return str(ValueRef(base, ref.index)) if base == rest else base


def _join_diagnostic(el: Any, node: str, cs: list[D.Constraint]) -> tuple:
    """(code, message, span, hint, related) of a node whose requirements no size satisfies."""
    o: ConstraintOrigin = cs[0].origin
    ir = el.st.node_index.get(node)
    op = f" ({ir.op})" if ir is not None else ""
    syms = sorted({s for c in cs for s in (D.free_symbols(c.lhs) | D.free_symbols(c.rhs))})
    sym_text = " and ".join(syms)
    pairs = "; ".join(f"{c.origin.what}: `{D.dim_str(c.lhs)}` vs `{D.dim_str(c.rhs)}`" for c in cs)
    refs = o.in_refs
    if o.inputs is not None and len(set(o.inputs)) == 2 and max(o.inputs) < len(refs):
        a, b = (refs[i] for i in o.inputs)
        qa, qb = _chosen_at(node, a), _chosen_at(node, b)
        q = qa if len(qa.split(".")) <= len(qb.split(".")) else qb
        parent = q.rpartition(".")[0]
        na, nb = _name_in(parent, q, a), _name_in(parent, q, b)
        ta, tb = el.type_of(a), el.type_of(b)
        taken = f", taken by the `from:` of `{q}`," if q != node else ""
        sa = f"`{na}` {ta.shape_str()}" + (taken if q == qa else "")
        sb = f"`{nb}` {tb.shape_str()}" + (taken if q != qa else "")
        message = (f"`{node}`{op} joins {sa} and {sb}; no size of {sym_text} makes them agree ({pairs})").replace(",;", ";")
        span = el.st.from_spans.get(q) or o.span
        related = []
        if q != node:
            related.append(Related(f"the join `{node}` is here", o.span))
        for r, t, nm in ((a, ta, na), (b, tb, nb)):
            full = f"{parent}.{nm}" if parent else nm
            if r.is_input:
                src = el.st.inputs[r.node].span
            elif full in el.st.scopes:
                src = el.st.scopes[full].span
            else:
                src = getattr(el.st.node_index.get(r.node), "span", None)
            if src is not None:
                related.append(Related(f"`{nm}` produces {t.shape_str()}", src))
        hint = ("the two inputs come from different levels of the network (each pooling or stride halves a "
                "size): point the `from:` at the tensor whose size matches the other input")
        return "ARC201", message, span, hint, tuple(related)
    message = f"`{node}`{op}: no size of {sym_text} makes its inputs agree ({pairs})"
    return "ARC201", message, o.span, None, ()
