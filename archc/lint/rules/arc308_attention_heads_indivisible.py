"""ARC308 attention-heads-indivisible: a width that `heads` does not divide."""
from __future__ import annotations

from typing import Iterator

from archc.lint._context import LintContext
from archc.lint._helpers import heads
from archc.lint._registry import Finding, rule



@rule(
    "ARC308", "attention-heads-indivisible", "error",
    summary="An op with `heads` whose input width (last dim) is not divisible by the number of heads.",
    why="Multi-head attention splits the width D into `heads` equal slices of D / heads. With a "
    "remainder there is no such split: the model cannot be built. (The built-in `attention` op's "
    "shape rule already refuses this as ARC204; this rule covers every op with a `heads` attribute, "
    "plugins included.)",
    bad="""
layers:
  - emb:  {op: embedding, num: 1000, dim: 100}
  - attn: {op: attention, heads: 8}              # 100 / 8
""",
    good="""
layers:
  - emb:  {op: embedding, num: 1000, dim: 128}
  - attn: {op: attention, heads: 8}              # head dim 16
""",
    also_reported_as=("ARC204",),
)
def attention_heads_indivisible(ctx: LintContext) -> Iterator[Finding]:
    for n in ctx.graph.nodes:
        wh = heads(ctx, n)
        if wh is not None and wh[0] % wh[1]:
            yield Finding(f"`{n.path}` ({n.op}): width {wh[0]} is not divisible by heads={wh[1]}",
                          ctx.attr_span(n, "heads"), hint="choose heads dividing the width, or change the width")
