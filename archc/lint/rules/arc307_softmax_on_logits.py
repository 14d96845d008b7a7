"""ARC307 softmax-on-logits: softmax on an output declared `kind: logits`."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule




@rule(
    "ARC307", "softmax-on-logits", "error",
    summary="An output declared `kind: logits` is produced by `softmax`.",
    why="Logits are unnormalised scores; losses such as `cross_entropy` apply log-softmax themselves. "
    "Feeding them probabilities applies softmax twice: the loss still decreases, but gradients "
    "vanish and the model trains badly, with no error anywhere.",
    bad="""
layers:
  - fc:   {op: linear, out: 10}
  - prob: {op: softmax}
outputs:
  logits: {from: prob, kind: logits}
""",
    good="""
layers:
  - fc:   {op: linear, out: 10}
outputs:
  logits: {from: fc, kind: logits}
""",
)
def softmax_on_logits(ctx: LintContext) -> Iterator[Finding]:
    for o in ctx.graph.outputs.values():
        if o.kind != "logits" or o.ref.is_input:
            continue
        n = ctx.nodes.get(o.ref.node)
        while n is not None and ctx.traits(n).role == "pass" and n.inputs:
            n = ctx.producer(n.inputs[0])
        if n is not None and ctx.traits(n).role == "probability":
            yield Finding(f"output `{o.name}` is declared `kind: logits`, but `{n.path}` applies softmax to it",
                          o.span, hint="output the scores before the softmax, or declare `kind: probabilities`",
                          related=(Related("the softmax is here", n.span),))
