"""ARC302 batch-norm-in-attention-block: batch norm in a transformer-style block."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule



@rule(
    "ARC302", "batch-norm-in-attention-block", "warning",
    summary="`batch_norm` inside a block that also contains attention (a transformer-style block).",
    why="Transformers normalise each token on its own (`layer_norm`, `rms_norm`). Batch statistics mix "
    "tokens of different sequences and positions, padding included, differ between training and "
    "inference, and make small-batch or variable-length training unstable.",
    bad="""
blocks:
  encoder_layer:
    layers:
      - attn: {op: attention, heads: 8}
      - norm: {op: batch_norm}
""",
    good="""
blocks:
  encoder_layer:
    layers:
      - attn: {op: attention, heads: 8}
      - norm: {op: layer_norm}
""",
)
def batch_norm_in_attention_block(ctx: LintContext) -> Iterator[Finding]:
    g = ctx.graph
    blocks = [s for s in g.scopes.values() if s.kind == "block"]
    flagged: set[str] = set()
    for s in blocks:
        prefix = s.path + "."
        inside = [n for n in g.nodes if n.path.startswith(prefix)]
        attn = next((n for n in inside if ctx.traits(n).attention), None)
        if attn is None:
            continue
        for n in inside:
            if ctx.traits(n).batch_stats and n.path not in flagged:
                flagged.add(n.path)
                yield Finding(
                    f"`{n.path}` is a batch norm in block `{s.name}`, which contains attention (`{attn.path}`)",
                    n.span, hint="use `{op: layer_norm}` (or `rms_norm`) in transformer blocks",
                    related=(Related("the attention is here", attn.span),))
