"""ARC311 unused-node: a node nothing takes that is not an output."""
from __future__ import annotations

from typing import Iterator

from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule



_SHARED = object()  # a dead node that feeds more than one unused node


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
    # each dead node's one dead leaf (a node no node takes) that it only feeds, or _SHARED when it
    # feeds several; one pass in reverse graph order (users come after their inputs), so the count
    # of nodes upstream that only feed a leaf costs O(edges), not one walk of its ancestors per leaf
    owner: dict[str, object] = {}
    for n in reversed(g.nodes):
        if n.path in live:
            continue
        users = ctx.users(n)
        if not users:
            owner[n.path] = n.path
            continue
        first = owner.get(users[0].path, _SHARED)
        owner[n.path] = first if all(owner.get(u.path, _SHARED) == first for u in users) else _SHARED
    feeding: dict[object, int] = {}
    for path, o in owner.items():
        if o != path:
            feeding[o] = feeding.get(o, 0) + 1
    for n in g.nodes:
        if n.path in live or ctx.users(n):
            continue
        k = feeding.get(n.path, 0)
        more = f"; {k} node{'s' if k != 1 else ''} upstream only feed it" if k else ""
        yield Finding(f"`{n.path}` ({n.op}) is never used: no node takes it as an input and it is not an output{more}",
                      n.span, hint="remove it, point a `from:` at it, or declare it under `outputs:`")
