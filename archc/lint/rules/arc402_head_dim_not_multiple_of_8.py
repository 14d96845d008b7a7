"""ARC402 head-dim-not-multiple-of-8: attention head dims that are not a multiple of 8."""
from __future__ import annotations

from typing import Iterator

from archc.lint._context import LintContext
from archc.lint._helpers import heads
from archc.lint._registry import Finding, rule



@rule(
    "ARC402", "head-dim-not-multiple-of-8", "warning",
    summary="Attention whose head dim (width / heads) is not a multiple of 8.",
    why="Fused attention kernels (FlashAttention, memory-efficient SDPA) and tensor cores want head "
    "dims that are multiples of 8 (best 64 or 128); other sizes fall back to slower kernels or are "
    "padded, wasting compute.",
    bad="""
layers:
  - attn: {op: attention, heads: 4}     # width 48: head dim 12
""",
    good="""
layers:
  - attn: {op: attention, heads: 3}     # width 48: head dim 16
""",
)
def head_dim_not_multiple_of_8(ctx: LintContext) -> Iterator[Finding]:
    for n in ctx.graph.nodes:
        wh = heads(ctx, n)
        if wh is None or wh[0] % wh[1]:
            continue
        hd = wh[0] // wh[1]
        if hd % 8:
            yield Finding(f"`{n.path}` ({n.op}): head dim {wh[0]} / {wh[1]} = {hd} is not a multiple of 8",
                          ctx.attr_span(n, "heads"),
                          hint="pick heads so that width / heads is a multiple of 8 (64 is typical)")
