"""ARC303 batch-norm-small-batch: batch norm with a declared training batch below 16."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule

MIN_BN_BATCH = 16



@rule(
    "ARC303", "batch-norm-small-batch", "warning",
    summary=f"The spec declares `params: {{train_batch_size: N}}` with N < {MIN_BN_BATCH} and uses `batch_norm`.",
    why="Batch norm estimates mean and variance from the batch. Below about 16 samples per device the "
    "estimates are noisy, training degrades and the running statistics used at inference drift away "
    "from the batch statistics seen in training. Group norm does not depend on the batch size. "
    "(`train_batch_size` is an optional param that only lint reads; declaring it documents the "
    "intended per-device batch.)",
    bad="""
params: {train_batch_size: 4}
layers:
  - conv: {op: conv2d, out: 64, kernel: 3, bias: false}
  - bn:   {op: batch_norm}
""",
    good="""
params: {train_batch_size: 4}
layers:
  - conv: {op: conv2d, out: 64, kernel: 3, bias: false}
  - gn:   {op: group_norm, groups: 32}
""",
)
def batch_norm_small_batch(ctx: LintContext) -> Iterator[Finding]:
    n_batch = ctx.graph.params.get("train_batch_size")
    if not isinstance(n_batch, int) or isinstance(n_batch, bool) or n_batch >= MIN_BN_BATCH:
        return
    bns = [n for n in ctx.graph.nodes if ctx.traits(n).batch_stats]
    if not bns:
        return
    span = ctx.value_span(("params", "train_batch_size"))
    ext = ctx.spec.extension if ctx.spec is not None else None
    if ext is not None and isinstance(ext.loaded.data, dict) and "train_batch_size" in (ext.loaded.data.get("params") or {}):
        span = ext.value_span(("params", "train_batch_size"))
    yield Finding(
        f"training batch size {n_batch} is below {MIN_BN_BATCH}, but the model uses batch norm "
        f"({len(bns)} layer{'s' if len(bns) != 1 else ''}, first `{bns[0].path}`)",
        span, hint="use `group_norm` (or `layer_norm`), or train with a larger batch",
        related=(Related("the first batch norm is here", bns[0].span),))
