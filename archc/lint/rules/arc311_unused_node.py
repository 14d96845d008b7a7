"""ARC311 unused-node: a node nothing takes that is not an output."""
from __future__ import annotations

from typing import Iterator

from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule



@rule(
    "ARC311", "unused-node", "warning",
    summary="A node whose result no other node takes and that is not an output.",
    why="A dead node still owns parameters (they appear in the state_dict, are initialised, saved "
    "and counted) and, in eager mode, still runs. It usually means a `from:` points at the wrong "
    "node, or a branch was left behind after an edit.",
    bad="""
layers:
  - fc1:  {op: linear, out: 64}
  - side: {op: linear, out: 64}          # nothing reads `side`
  - fc2:  {op: linear, out: 10, from: fc1}
""",
    good="""
layers:
  - fc1:  {op: linear, out: 64}
  - fc2:  {op: linear, out: 10}
""",
)
def unused_node(ctx: LintContext) -> Iterator[Finding]:
    g = ctx.graph
    live: set[str] = set()
    stack = [o.ref.node for o in g.outputs.values() if not o.ref.is_input]
    while stack:
        p = stack.pop()
        if p in live or p not in ctx.nodes:
            continue
        live.add(p)
        stack.extend(r.node for r in ctx.nodes[p].inputs if not r.is_input)
    for n in g.nodes:
        if n.path in live or ctx.users(n):
            continue
        feeding = sum(1 for a in ctx.ancestors(n) if a not in live)
        more = f"; {feeding} node{'s' if feeding != 1 else ''} upstream only feed it" if feeding else ""
        yield Finding(f"`{n.path}` ({n.op}) is never used: no node takes it as an input and it is not an output{more}",
                      n.span, hint="remove it, point a `from:` at it, or declare it under `outputs:`")
