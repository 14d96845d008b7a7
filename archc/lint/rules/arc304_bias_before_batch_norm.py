"""ARC304 bias-before-batch-norm: a biased conv or linear feeding straight into batch norm."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule

BIASED = frozenset({"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "linear"})



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
)
def bias_before_batch_norm(ctx: LintContext) -> Iterator[Finding]:
    for n in ctx.graph.nodes:
        if n.op not in BIASED or not ctx.attr(n, "bias", False):
            continue
        if n.op == "linear" and n.out.rank != 2:
            continue  # batch norm on [B, T, F] normalises T, not the features the bias is added to
        users = ctx.users(n)
        if users and all(u.op == "batch_norm" for u in users):
            yield Finding(
                f"`{n.path}` ({n.op}) has a bias, but feeds straight into batch norm `{users[0].path}`, which cancels it",
                ctx.attr_span(n, "bias"), hint="set `bias: false`",
                related=(Related("the batch norm is here", users[0].span),))
