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
    blocks = {s.path: s for s in g.scopes.values() if s.kind == "block"}
    # one pass over the nodes: each node belongs to the block scopes that are dotted prefixes of its
    # path (O(nodes x nesting depth), not scopes x nodes)
    attn: dict[str, object] = {}          # block path -> its first attention node
    norms: dict[str, list] = {}           # block path -> its batch norms, in graph order
    for n in g.nodes:
        t = ctx.traits(n)
        if not (t.attention or t.batch_stats):
            continue
        p = n.path
        i = p.rfind(".")
        while i > 0:
            head = p[:i]
            if head in blocks:
                if t.attention and head not in attn:
                    attn[head] = n
                if t.batch_stats:
                    norms.setdefault(head, []).append(n)
            i = p.rfind(".", 0, i)
    flagged: set[str] = set()
    for path, s in blocks.items():
        a = attn.get(path)
        if a is None:
            continue
        for n in norms.get(path, ()):
            if n.path not in flagged:
                flagged.add(n.path)
                yield Finding(
                    f"`{n.path}` is a batch norm in block `{s.name}`, which contains attention (`{a.path}`)",
                    n.span, hint="use `{op: layer_norm}` (or `rms_norm`) in transformer blocks",
                    related=(Related("the attention is here", a.span),))
