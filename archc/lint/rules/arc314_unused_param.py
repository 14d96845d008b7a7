"""ARC314 unused-param: a spec or block param that no `${...}` reads."""
from __future__ import annotations

from typing import Iterator

from archc.lint._context import LintContext
from archc.lint._helpers import names_read
from archc.lint._registry import Finding, rule

# Params that only lint reads (documented conventions), never reported as unused.
LINT_HINT_PARAMS = frozenset({"train_batch_size"})



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
