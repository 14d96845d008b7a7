"""ARC401 width-not-multiple-of-8: channel and feature widths that tensor cores cannot tile."""
from __future__ import annotations

from typing import Iterator

from archc.ir.graph import Node
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule

MIN_WIDTH = 16  # narrower layers cost too little for padding to matter
_HEAD_TAIL = ("activation", "probability", "view", "pass")   # roles of the param-free ops after a head


def _is_head(ctx: LintContext, n: Node, depth: int = 0, memo: dict | None = None) -> bool:
    """The node is an output, or reaches outputs only through param-free reshapes and activations
    (within 8 steps). `memo` keeps each (node, depth) answer, so wide fan-outs are not re-walked."""
    if ctx.is_output(n):
        return True
    key = (n.path, depth)
    if memo is not None and key in memo:
        return memo[key]
    users = ctx.users(n)
    out = bool(users) and depth < 8 and all(ctx.traits(u).role in _HEAD_TAIL and _is_head(ctx, u, depth + 1, memo) for u in users)
    if memo is not None:
        memo[key] = out
    return out


@rule(
    "ARC401", "width-not-multiple-of-8", "warning",
    summary=f"A conv, linear, embedding or recurrent layer of width >= {MIN_WIDTH} that is not a multiple "
    "of 8 (output heads, whose width the task fixes, are exempt).",
    why="Tensor cores multiply tiles of 8 (fp16/bf16) or 16 (int8) along every dimension; a width "
    "of 100 is padded to 104 at best and falls back to slower kernels at worst. Rounding widths "
    "(`make_divisible(x, 8)`) is free accuracy-wise and often measurably faster; GPT-2's vocabulary "
    "is padded from 50257 to 50304 for this reason.",
    bad="""
layers:
  - fc1:  {op: linear, out: 100}
  - act:  {op: relu}
  - head: {op: linear, out: 10}
""",
    good="""
layers:
  - fc1:  {op: linear, out: 104}
  - act:  {op: relu}
  - head: {op: linear, out: 10}          # an output head: exempt
""",
)
def width_not_multiple_of_8(ctx: LintContext) -> Iterator[Finding]:
    memo: dict = {}
    for n in ctx.graph.nodes:
        key = ctx.traits(n).width
        w = ctx.attr(n, key) if key else None
        if not isinstance(w, int) or isinstance(w, bool) or w < MIN_WIDTH or w % 8 == 0:
            continue
        if _is_head(ctx, n, 0, memo):
            continue
        up = (w + 7) // 8 * 8
        yield Finding(f"`{n.path}` ({n.op}) has width {key}={w}, not a multiple of 8",
                      ctx.attr_span(n, key), hint=f"use {up} (or `${{make_divisible(x, 8)}}`)")
