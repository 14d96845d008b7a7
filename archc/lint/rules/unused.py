"""Dead weight: ARC311 nodes, ARC312 inputs, ARC313 blocks and ARC314 params that nothing uses."""
from __future__ import annotations

from typing import Any, Iterator

from archc.ir.expr import contains_expr, parse
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule

# Params that only lint reads (documented conventions), never reported as unused.
LINT_HINT_PARAMS = frozenset({"train_batch_size"})


def strings(value: Any) -> Iterator[str]:
    """Every string value (not mapping keys) inside plain YAML data."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def names_read(value: Any) -> set[str]:
    """The names that `${...}` expressions anywhere inside `value` read."""
    out: set[str] = set()
    for s in strings(value):
        if contains_expr(s):
            try:
                out |= parse(s).names
            except Exception:  # a malformed expression is the loader's or elaborator's to report
                continue
    return out


@rule(
    "ARC311", "unused-node", "warning",
    summary="A node whose result no other node takes and that is not an output.",
    why="A dead node still owns parameters (they appear in the state_dict, are initialised, saved "
    "and counted) and, in eager mode, still runs. It usually means a `from:` points at the wrong "
    "node, or a branch was left behind after an edit.",
    bad="""
layers:
  - fc1:  {op: linear, out: 64}
  - side: {op: linear, out: 64}          # nothing reads `side`
  - fc2:  {op: linear, out: 10, from: fc1}
""",
    good="""
layers:
  - fc1:  {op: linear, out: 64}
  - fc2:  {op: linear, out: 10}
""",
)
def unused_node(ctx: LintContext) -> Iterator[Finding]:
    g = ctx.graph
    live: set[str] = set()
    stack = [o.ref.node for o in g.outputs.values() if not o.ref.is_input]
    while stack:
        p = stack.pop()
        if p in live or p not in ctx.nodes:
            continue
        live.add(p)
        stack.extend(r.node for r in ctx.nodes[p].inputs if not r.is_input)
    for n in g.nodes:
        if n.path in live or ctx.users(n):
            continue
        feeding = sum(1 for a in ctx.ancestors(n) if a not in live)
        more = f"; {feeding} node{'s' if feeding != 1 else ''} upstream only feed it" if feeding else ""
        yield Finding(f"`{n.path}` ({n.op}) is never used: no node takes it as an input and it is not an output{more}",
                      n.span, hint="remove it, point a `from:` at it, or declare it under `outputs:`")


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


@rule(
    "ARC314", "unused-param", "warning",
    summary="A spec param, or a block param, that no `${...}` expression reads.",
    why="A param that nothing reads makes `--set` and variants silently do nothing: `--set "
    "width=512` succeeds and changes no layer. (Variants and `--set` assign params; only "
    "expressions read them. `train_batch_size` is a lint hint and is exempt.)",
    bad="""
params: {hidden: 256, dropout: 0.1}      # `dropout` is never read
layers:
  - fc: {op: linear, out: "${hidden}"}
""",
    good="""
params: {hidden: 256, dropout: 0.1}
layers:
  - fc:   {op: linear, out: "${hidden}"}
  - drop: {op: dropout, p: "${dropout}"}
""",
    scope="source", library=True,
)
def unused_param(ctx: LintContext) -> Iterator[Finding]:
    data = ctx.data
    if not isinstance(data, dict):
        return
    params = data.get("params")
    blocks = data.get("blocks") if isinstance(data.get("blocks"), dict) else {}
    if isinstance(params, dict) and (data.get("layers") or blocks):
        read = names_read({k: v for k, v in data.items() if k != "params"})
        for k, v in params.items():
            read |= names_read(v) - {k}
        for k in params:
            if k not in read and k not in LINT_HINT_PARAMS:
                yield Finding(f"param `{k}` is never read by an expression", ctx.key_span(("params", k)),
                              hint=f"remove it, or use it as `${{{k}}}`")
    for bname, b in blocks.items():
        if not isinstance(b, dict) or not isinstance(b.get("params"), dict):
            continue
        read = names_read({k: v for k, v in b.items() if k != "params"})
        for k, v in b["params"].items():
            read |= names_read(v) - {k}
        for k in b["params"]:
            if k not in read:
                yield Finding(f"block `{bname}` declares param `{k}`, which its layers never read",
                              ctx.key_span(("blocks", bname, "params", k)),
                              hint=f"remove it, or use it as `${{{k}}}` in the block")
