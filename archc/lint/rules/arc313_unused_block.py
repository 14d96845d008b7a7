"""ARC313 unused-block: a block the model never instantiates."""
from __future__ import annotations

from typing import Iterator

from archc.lint._context import LintContext
from archc.lint._helpers import strings
from archc.lint._registry import Finding, rule



@rule(
    "ARC313", "unused-block", "warning",
    summary="A block defined under `blocks:` of a model that neither the model nor a used block instantiates.",
    why="Dead definitions drift: nobody notices when they stop elaborating, and readers look for a "
    "use that does not exist. (Blocks in a library file are meant for other specs and are not "
    "reported.)",
    bad="""
blocks:
  dense: {layers: [{fc: {op: linear, out: 64}}]}
  old:   {layers: [{fc: {op: linear, out: 32}}]}     # never used
layers:
  - body: {block: dense}
""",
    good="""
blocks:
  dense: {layers: [{fc: {op: linear, out: 64}}]}
layers:
  - body: {block: dense}
""",
    scope="source",
)
def unused_block(ctx: LintContext) -> Iterator[Finding]:
    data = ctx.data
    if not isinstance(data, dict) or not isinstance(data.get("blocks"), dict) or not data.get("layers"):
        return
    blocks = data["blocks"]
    # a block is used when its name appears as a string outside the block definitions (a literal
    # `block: name`, or a param or variant value that a `block: ${...}` expression picks), or inside
    # the definition of a used block
    roots = {k: v for k, v in data.items() if k != "blocks"}
    used = {s for s in strings(roots) if s in blocks}
    if ctx.graph is not None:
        used |= {s.name for s in ctx.graph.scopes.values() if s.kind == "block" and s.name in blocks}
    todo = list(used)
    while todo:
        b = todo.pop()
        for s in strings(blocks.get(b)):
            if s in blocks and s not in used:
                used.add(s)
                todo.append(s)
    for name in blocks:
        if name not in used:
            yield Finding(f"block `{name}` is defined but never used", ctx.key_span(("blocks", name)),
                          hint="remove it, or move it to a library under lib/ and import it where it is needed")
