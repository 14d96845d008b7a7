"""ARC312 unused-input: a declared input no node takes."""
from __future__ import annotations

from typing import Iterator

from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule



@rule(
    "ARC312", "unused-input", "warning",
    summary="A declared input that no node takes.",
    why="Callers must still build and pass the tensor, and exported signatures carry it: an unused "
    "input is a trap for everyone who calls the model.",
    bad="""
inputs:
  x:    {shape: [B, 16]}
  mask: {shape: [B, 16], dtype: bool}    # never used
""",
    good="""
inputs:
  x:    {shape: [B, 16]}
""",
)
def unused_input(ctx: LintContext) -> Iterator[Finding]:
    for name, inp in ctx.graph.inputs.items():
        if (True, name) not in ctx.consumers and (True, name) not in ctx.output_refs:
            yield Finding(f"input `{name}` is never used", inp.span, hint="remove it, or take it with `from:`")
