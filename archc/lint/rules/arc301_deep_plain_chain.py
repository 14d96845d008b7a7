"""ARC301 deep-plain-chain: more than 10 weighted layers on every path from input to output."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.ir.types import FLOAT_DTYPES
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule

MAX_PLAIN_DEPTH = 10



@rule(
    "ARC301", "deep-plain-chain", "warning",
    summary=f"Every path from an input to an output passes through more than {MAX_PLAIN_DEPTH} weighted "
    "layers (conv, linear, attention, recurrent), measured along the shortest path: a deep plain chain "
    "that no skip connection shortens enough.",
    why="Plain stacks deeper than about ten layers train worse, not better, even on the training set "
    "(the degradation problem that motivated ResNet): gradients must cross every layer. A residual "
    "`add` (or a concatenation, as in U-Net and DenseNet) gives them a short path. Depth is measured "
    "along the shortest path, so one skip around the deep part is enough.",
    bad="""
layers:
  - c1:  {op: conv2d, out: 64, kernel: 3, padding: 1}
  # ... c2 to c11, the same
  - c11: {op: conv2d, out: 64, kernel: 3, padding: 1}
""",
    good="""
layers:
  - c1:  {op: conv2d, out: 64, kernel: 3, padding: 1}
  # ... c2 to c10
  - c11: {op: conv2d, out: 64, kernel: 3, padding: 1}
  - add: {op: add, from: [c11, c1]}     # a skip connection
""",
)
def deep_plain_chain(ctx: LintContext) -> Iterator[Finding]:
    g = ctx.graph
    # shortest path (counting weighted layers) from any graph input to each node, through float edges
    depth: dict[str, int] = {}
    via: dict[str, str | None] = {}
    for n in g.nodes:
        best, best_src = None, None
        for r in n.inputs:
            if g.type_of(r).dtype not in FLOAT_DTYPES:
                continue
            d = 0 if r.is_input else depth.get(r.node, 0)
            if best is None or d < best:
                best, best_src = d, (None if r.is_input else r.node)
        w = 1 if ctx.traits(n).weighted else 0
        depth[n.path] = (best or 0) + w
        via[n.path] = best_src
    worst = None
    for o in g.outputs.values():
        if o.ref.is_input or o.ref.node not in depth:
            continue
        if depth[o.ref.node] > MAX_PLAIN_DEPTH and (worst is None or depth[o.ref.node] > depth[worst[1]]):
            worst = (o, o.ref.node)
    if worst is None:
        return
    out, end = worst
    chain: list[str] = []
    cur: str | None = end
    while cur is not None:
        if ctx.traits(ctx.nodes[cur]).weighted:
            chain.append(cur)
        cur = via[cur]
    chain.reverse()
    n = len(chain)
    at = ctx.nodes[chain[MAX_PLAIN_DEPTH]]
    first = ctx.nodes[chain[0]]
    span, start = ctx.top_span(at), ctx.top_span(first)
    yield Finding(
        f"the shortest path from an input to output `{out.name}` passes through {n} weighted layers "
        f"(more than {MAX_PLAIN_DEPTH}; skip connections, if any, do not shorten it enough): "
        f"`{first.path}` to `{chain[-1]}`; `{at.path}` is layer {MAX_PLAIN_DEPTH + 1}",
        span,
        hint="add residual connections (`{op: add, from: [x, y]}`) that bypass layers of this path, "
        "or make the net shallower",
        related=(Related(f"the plain chain starts at `{first.path}`", start),) if start != span else (),
    )
