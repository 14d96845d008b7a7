"""ARC310 non-causal-decoder: a language-model head on non-causal self-attention."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule
from archc.ops import Traits



def _projects(t: Traits) -> bool:
    """A weighted layer whose width sizes the last dim: a linear (or a recurrent layer)."""
    return t.weighted and t.width is not None and t.width_dim == -1


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
    vocab = {}
    for n in ctx.graph.nodes:
        t = ctx.traits(n)
        if t.vocab is not None:
            vocab[ctx.attr(n, t.vocab)] = n       # the last embedding of a size
    head = None
    for o in ctx.graph.outputs.values():
        n = None if o.kind != "logits" or o.ref.is_input else ctx.nodes.get(o.ref.node)
        t = ctx.traits(n) if n is not None else None
        # a language-model head: a projection of the last dim to the vocabulary size
        if t is not None and _projects(t) and ctx.attr(n, t.width) in vocab:
            head = (o, n, vocab[ctx.attr(n, t.width)], ctx.attr(n, t.width))
            break
    if head is None:
        return
    out, lm, emb, size = head
    for n in ctx.graph.nodes:
        if ctx.traits(n).attention == "layer" and len(n.inputs) == 1 and not ctx.attr(n, "causal", False):
            yield Finding(
                f"`{n.path}` is non-causal self-attention in a model with a language-model head "
                f"(`{lm.path}` -> output `{out.name}`, vocabulary {size})",
                n.span, hint="set `causal: true` (or, for a masked language model, suppress this with a reason)",
                related=(Related("the language-model head is here", lm.span),
                         Related("the token embedding is here", emb.span)))
