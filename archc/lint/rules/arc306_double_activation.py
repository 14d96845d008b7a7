"""ARC306 double-activation: an activation applied to the output of another."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule



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
        if ctx.traits(n).role != "activation" or not n.inputs:
            continue
        p = ctx.producer(n.inputs[0])
        if p is not None and ctx.traits(p).role == "activation":
            yield Finding(f"`{n.path}` ({n.op}) is applied to the output of `{p.path}` ({p.op}), another activation",
                          n.span, hint="remove one of them",
                          related=(Related("the first activation is here", p.span),))
