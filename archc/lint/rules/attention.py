"""Attention: ARC308 heads that do not divide the width, ARC309 no positional information,
ARC310 a language-model decoder that is not causal, ARC402 head dims not a multiple of 8."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.ir.graph import Node
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule

POSITIONAL = frozenset({"positional_embedding", "pos_embedding_param", "rnn", "lstm", "gru", "conv1d"})


def _heads(ctx: LintContext, n: Node) -> tuple[int, int] | None:
    """(width, heads) of a node with a `heads` attribute and a static last input dim."""
    heads = ctx.attr(n, "heads")
    if not isinstance(heads, int) or isinstance(heads, bool) or heads <= 0 or not n.inputs:
        return None
    shape = ctx.graph.type_of(n.inputs[0]).shape
    if not shape or not isinstance(shape[-1], int):
        return None
    return shape[-1], heads


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
        wh = _heads(ctx, n)
        if wh is not None and wh[0] % wh[1]:
            yield Finding(f"`{n.path}` ({n.op}): width {wh[0]} is not divisible by heads={wh[1]}",
                          ctx.attr_span(n, "heads"), hint="choose heads dividing the width, or change the width")


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
        wh = _heads(ctx, n)
        if wh is None or wh[0] % wh[1]:
            continue
        hd = wh[0] // wh[1]
        if hd % 8:
            yield Finding(f"`{n.path}` ({n.op}): head dim {wh[0]} / {wh[1]} = {hd} is not a multiple of 8",
                          ctx.attr_span(n, "heads"),
                          hint="pick heads so that width / heads is a multiple of 8 (64 is typical)")


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
        has_pos[n.path] = up or n.op in POSITIONAL or ctx.family(n) == "recurrent"
        if n.op == "attention" and not up:
            missing.append(n)
    if missing:
        first = missing[0]
        more = f" ({len(missing)} attention layers in all)" if len(missing) > 1 else ""
        yield Finding(f"`{first.path}` attends over a sequence that carries no positional information{more}",
                      first.span, hint="add a `positional_embedding` to the token embedding (`{op: add, from: [tokens, positions]}`)")


@rule(
    "ARC310", "non-causal-decoder", "warning",
    summary="A language-model head (a linear to the vocabulary size, output `kind: logits`) on a model "
    "whose self-attention is not causal.",
    why="An autoregressive decoder predicts token t+1 from tokens up to t. Without `causal: true` "
    "each position can attend to the tokens it is asked to predict: training loss falls quickly, "
    "and generation then produces nonsense. (Heuristic: a masked language model such as BERT is "
    "meant to be bidirectional; suppress the finding there with a reason.)",
    bad="""
layers:
  - tok:  {op: embedding, num: 1000, dim: 64}
  - pos:  {op: positional_embedding, max_len: 256}
  - sum:  {op: add, from: [tok, pos]}
  - attn: {op: attention, heads: 4}
  - head: {op: linear, out: 1000}
outputs:
  logits: {from: head, kind: logits}
""",
    good="""
layers:
  - tok:  {op: embedding, num: 1000, dim: 64}
  - pos:  {op: positional_embedding, max_len: 256}
  - sum:  {op: add, from: [tok, pos]}
  - attn: {op: attention, heads: 4, causal: true}
  - head: {op: linear, out: 1000}
outputs:
  logits: {from: head, kind: logits}
""",
)
def non_causal_decoder(ctx: LintContext) -> Iterator[Finding]:
    vocab = {ctx.attr(n, "num"): n for n in ctx.graph.nodes if n.op == "embedding"}
    head = None
    for o in ctx.graph.outputs.values():
        n = None if o.kind != "logits" or o.ref.is_input else ctx.nodes.get(o.ref.node)
        if n is not None and n.op == "linear" and ctx.attr(n, "out") in vocab:
            head = (o, n, vocab[ctx.attr(n, "out")])
            break
    if head is None:
        return
    out, lm, emb = head
    for n in ctx.graph.nodes:
        if n.op == "attention" and len(n.inputs) == 1 and not ctx.attr(n, "causal", False):
            yield Finding(
                f"`{n.path}` is non-causal self-attention in a model with a language-model head "
                f"(`{lm.path}` -> output `{out.name}`, vocabulary {ctx.attr(lm, 'out')})",
                n.span, hint="set `causal: true` (or, for a masked language model, suppress this with a reason)",
                related=(Related("the language-model head is here", lm.span),
                         Related("the token embedding is here", emb.span)))
