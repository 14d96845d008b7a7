"""ARC315 linear-on-feature-map: a linear layer applied to a channels-first feature map."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule

# the roles a value keeps its layout through (an activation, a dropout); a view (permute, reshape,
# flatten) may change it, so the walk back stops there
KEEPS_LAYOUT = ("activation", "pass")


@rule(
    "ARC315", "linear-on-feature-map", "warning",
    summary="A linear (last-dim) layer applied to a channels-first feature map of rank 3 or more.",
    why="`linear` mixes only the last dim. On a conv's output `[B, C, H, W]` that is W, the width of "
    "the image: the layer learns a map across columns and leaves the C channels unmixed, and its "
    "`out` replaces W. The usual intent is a classifier head, which needs the map pooled or "
    "flattened first, or a per-pixel projection of the channels, which is a 1x1 conv (or a permute "
    "to channels-last, as ConvNeXt does, before the linear).",
    bad="""
symbols:
  B: {example: 2}
inputs:
  image: {shape: [B, 3, 32, 32]}
layers:
  - conv: {op: conv2d, out: 16, kernel: 3, padding: 1}
  - act:  {op: relu}
  - head: {op: linear, out: 10}
""",
    good="""
symbols:
  B: {example: 2}
inputs:
  image: {shape: [B, 3, 32, 32]}
layers:
  - conv: {op: conv2d, out: 16, kernel: 3, padding: 1}
  - act:  {op: relu}
  - pool: {op: adaptive_avg_pool2d, output_size: 1}
  - flat: {op: flatten}
  - head: {op: linear, out: 10}
""",
)
def linear_on_feature_map(ctx: LintContext) -> Iterator[Finding]:
    g = ctx.graph
    for n in g.nodes:
        t = ctx.traits(n)
        if not (t.weighted and t.width and t.width_dim == -1 and not t.positional) or not n.inputs:
            continue
        x = g.type_of(n.inputs[0])
        if x.rank < 3:
            continue
        p = ctx.producer(n.inputs[0])
        while p is not None and ctx.traits(p).role in KEEPS_LAYOUT and p.inputs:
            p = ctx.producer(p.inputs[0])
        if p is None:
            continue
        pt = ctx.traits(p)
        if not (pt.weighted and pt.width and pt.width_dim == 1):
            continue
        shape = x.shape_str()
        yield Finding(f"`{n.path}` ({n.op}) is applied to `{p.path}`'s channels-first output {shape}: it mixes "
                      f"the last dim ({x.shape[-1]}) only, not the {x.shape[1]} channels",
                      n.span, hint="pool and flatten first for a classifier head (adaptive_avg_pool2d, flatten), "
                      "or use a 1x1 conv (or permute to channels-last) for a per-pixel projection",
                      related=(Related(f"`{p.path}` ({p.op}) makes the feature map", p.span),))
