"""ARC304 bias-before-batch-norm: a biased conv or linear feeding straight into batch norm."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.lint._context import LintContext
from archc.lint._registry import Finding, Fix, rule




@rule(
    "ARC304", "bias-before-batch-norm", "warning",
    summary="A conv or linear layer with `bias: true` feeds straight into `batch_norm`.",
    why="Batch norm subtracts the per-channel mean, so a bias added just before it is cancelled "
    "exactly: a parameter that is trained but never has an effect (and a wasted add). Its own "
    "`beta` plays the bias's role.",
    bad="""
layers:
  - conv: {op: conv2d, out: 64, kernel: 3}           # bias defaults to true
  - bn:   {op: batch_norm}
""",
    good="""
layers:
  - conv: {op: conv2d, out: 64, kernel: 3, bias: false}
  - bn:   {op: batch_norm}
""",
    fix="sets `bias: false` on the conv or linear, when every use of its definition (each repetition, "
    "each use of its block, each variant) feeds batch norm and `bias` is not an expression",
)
def bias_before_batch_norm(ctx: LintContext) -> Iterator[Finding]:
    found = []
    biased: dict = {}        # a node body's span -> how many graph nodes it makes that have a bias
    for n in ctx.graph.nodes:
        t = ctx.traits(n)
        if t.bias is None or not ctx.attr(n, t.bias, False):
            continue
        biased[n.span] = biased.get(n.span, 0) + 1
        if n.out.rank < 2 or t.width_dim % n.out.rank != 1:
            continue  # batch norm normalises dim 1 (on [B, T, F], T), not the dim the bias is added to
        users = ctx.users(n)
        if users and all(ctx.traits(u).batch_stats for u in users):
            found.append((n, t, users[0]))
    flagged: dict = {}
    for n, _, _ in found:
        flagged[n.span] = flagged.get(n.span, 0) + 1
    for n, t, bn in found:
        # `bias: false` is safe when every node this body makes (each repetition, each use of its
        # block) feeds batch norm: the bias is then cancelled everywhere, and removing it changes
        # no output (only the state_dict loses the unused `bias` entries)
        fix = Fix(n.path, t.bias, False) if n.span is not None and flagged[n.span] == biased[n.span] else None
        yield Finding(
            f"`{n.path}` ({n.op}) has a bias, but feeds straight into batch norm `{bn.path}`, which cancels it",
            ctx.attr_span(n, t.bias), hint="set `bias: false`",
            related=(Related("the batch norm is here", bn.span),), fix=fix)
