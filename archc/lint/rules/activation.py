"""Activations: ARC306 two in a row, ARC307 softmax on an output declared as logits."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.lint._context import ACTIVATIONS, LintContext
from archc.lint._registry import Finding, rule

_PASS_THROUGH = frozenset({"identity", "dropout"})


@rule(
    "ARC306", "double-activation", "warning",
    summary="An activation applied directly to the output of another activation.",
    why="Two nonlinearities in a row are almost always a copy-paste slip (a block that ends in ReLU "
    "followed by another ReLU). `relu(relu(x))` is a wasted kernel; other pairs (gelu then relu, "
    "sigmoid then tanh) squash the signal's range and its gradients.",
    bad="""
layers:
  - fc:    {op: linear, out: 64}
  - act:   {op: relu}
  - act2:  {op: relu}
""",
    good="""
layers:
  - fc:    {op: linear, out: 64}
  - act:   {op: relu}
""",
)
def double_activation(ctx: LintContext) -> Iterator[Finding]:
    for n in ctx.graph.nodes:
        if n.op not in ACTIVATIONS or not n.inputs:
            continue
        p = ctx.producer(n.inputs[0])
        if p is not None and p.op in ACTIVATIONS:
            yield Finding(f"`{n.path}` ({n.op}) is applied to the output of `{p.path}` ({p.op}), another activation",
                          n.span, hint="remove one of them",
                          related=(Related("the first activation is here", p.span),))


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
        while n is not None and n.op in _PASS_THROUGH and n.inputs:
            n = ctx.producer(n.inputs[0])
        if n is not None and n.op == "softmax":
            yield Finding(f"output `{o.name}` is declared `kind: logits`, but `{n.path}` applies softmax to it",
                          o.span, hint="output the scores before the softmax, or declare `kind: probabilities`",
                          related=(Related("the softmax is here", n.span),))
