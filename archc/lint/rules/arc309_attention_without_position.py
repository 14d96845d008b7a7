"""ARC309 attention-without-position: attention with no positional information upstream."""
from __future__ import annotations

from typing import Iterator

from archc.ir.graph import Node
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule




@rule(
    "ARC309", "attention-without-position", "warning",
    summary="Attention over a sequence with no positional information anywhere upstream.",
    why="Attention is permutation-equivariant: without positions, `the dog bit the man` and `the man "
    "bit the dog` look the same to it. A token `embedding` carries identity, not order. Add a "
    "`positional_embedding` added to the tokens (or `pos_embedding_param` after a `patch_embedding`); a recurrent layer "
    "or a `conv1d` before the attention also encodes order. For sets (no order), suppress this with "
    "a reason.",
    bad="""
layers:
  - tok:  {op: embedding, num: 1000, dim: 64}
  - attn: {op: attention, heads: 4}
""",
    good="""
layers:
  - tok:  {op: embedding, num: 1000, dim: 64}
  - pos:  {op: positional_embedding, max_len: 512}
  - sum:  {op: add, from: [tok, pos]}
  - attn: {op: attention, heads: 4}
""",
)
def attention_without_position(ctx: LintContext) -> Iterator[Finding]:
    has_pos: dict[str, bool] = {}
    missing: list[Node] = []
    for n in ctx.graph.nodes:
        up = any(has_pos.get(r.node, False) for r in n.inputs if not r.is_input)
        t = ctx.traits(n)
        has_pos[n.path] = up or t.positional
        if t.attention == "layer" and not up:
            missing.append(n)
    if missing:
        first = missing[0]
        more = f" ({len(missing)} attention layers in all)" if len(missing) > 1 else ""
        yield Finding(f"`{first.path}` attends over a sequence that carries no positional information{more}",
                      first.span, hint="add a `positional_embedding` to the token embedding (`{op: add, from: [tokens, positions]}`)")
