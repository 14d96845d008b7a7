"""ARC305 dropout-before-batch-norm: dropout feeding straight into batch norm."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule



@rule(
    "ARC305", "dropout-before-batch-norm", "warning",
    summary="`dropout` feeds straight into `batch_norm`.",
    why="Dropout changes the variance of its output between training and inference; the batch norm "
    "after it learns running statistics under training-time variance and then sees another at "
    "inference (the 'variance shift' of Li et al., 2019), which costs accuracy. Put dropout after the "
    "last batch norm, e.g. just before the classifier.",
    bad="""
layers:
  - drop: {op: dropout, p: 0.5}
  - bn:   {op: batch_norm}
""",
    good="""
layers:
  - bn:   {op: batch_norm}
  - drop: {op: dropout, p: 0.5}
""",
)
def dropout_before_batch_norm(ctx: LintContext) -> Iterator[Finding]:
    for n in ctx.graph.nodes:
        # a pass-through op (identity at inference) with a drop rate: dropout, drop_path
        if ctx.traits(n).role != "pass" or not ctx.attr(n, "p", 0):
            continue
        bn = next((u for u in ctx.users(n) if ctx.traits(u).batch_stats), None)
        if bn is not None:
            yield Finding(f"{n.op} `{n.path}` feeds straight into batch norm `{bn.path}`", n.span,
                          hint="move the dropout after the batch norm (or drop one of them)",
                          related=(Related("the batch norm is here", bn.span),))
