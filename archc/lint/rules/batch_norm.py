"""Batch norm placement: ARC302 in attention blocks, ARC303 with small training batches, ARC304 after
a biased conv/linear, ARC305 after dropout."""
from __future__ import annotations

from typing import Iterator

from archc.diagnostics import Related
from archc.lint._context import ATTENTION_OPS, LintContext
from archc.lint._registry import Finding, rule

MIN_BN_BATCH = 16
BIASED = frozenset({"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "linear"})


@rule(
    "ARC302", "batch-norm-in-attention-block", "warning",
    summary="`batch_norm` inside a block that also contains attention (a transformer-style block).",
    why="Transformers normalise each token on its own (`layer_norm`, `rms_norm`). Batch statistics mix "
    "tokens of different sequences and positions, padding included, differ between training and "
    "inference, and make small-batch or variable-length training unstable.",
    bad="""
blocks:
  encoder_layer:
    layers:
      - attn: {op: attention, heads: 8}
      - norm: {op: batch_norm}
""",
    good="""
blocks:
  encoder_layer:
    layers:
      - attn: {op: attention, heads: 8}
      - norm: {op: layer_norm}
""",
)
def batch_norm_in_attention_block(ctx: LintContext) -> Iterator[Finding]:
    g = ctx.graph
    blocks = [s for s in g.scopes.values() if s.kind == "block"]
    flagged: set[str] = set()
    for s in blocks:
        prefix = s.path + "."
        inside = [n for n in g.nodes if n.path.startswith(prefix)]
        attn = next((n for n in inside if n.op in ATTENTION_OPS or ctx.family(n) == "attention"), None)
        if attn is None:
            continue
        for n in inside:
            if n.op == "batch_norm" and n.path not in flagged:
                flagged.add(n.path)
                yield Finding(
                    f"`{n.path}` is a batch norm in block `{s.name}`, which contains attention (`{attn.path}`)",
                    n.span, hint="use `{op: layer_norm}` (or `rms_norm`) in transformer blocks",
                    related=(Related("the attention is here", attn.span),))


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
    bns = [n for n in ctx.graph.nodes if n.op == "batch_norm"]
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


@rule(
    "ARC304", "bias-before-batch-norm", "warning",
    summary="A conv or linear layer with `bias: true` feeds straight into `batch_norm`.",
    why="Batch norm subtracts the per-channel mean, so a bias added just before it is cancelled "
    "exactly: a parameter that is trained but never has an effect (and a wasted add). Its own "
    "`beta` plays the bias's role.",
    bad="""
layers:
  - conv: {op: conv2d, out: 64, kernel: 3}           # bias defaults to true
  - bn:   {op: batch_norm}
""",
    good="""
layers:
  - conv: {op: conv2d, out: 64, kernel: 3, bias: false}
  - bn:   {op: batch_norm}
""",
)
def bias_before_batch_norm(ctx: LintContext) -> Iterator[Finding]:
    for n in ctx.graph.nodes:
        if n.op not in BIASED or not ctx.attr(n, "bias", False):
            continue
        if n.op == "linear" and n.out.rank != 2:
            continue  # batch norm on [B, T, F] normalises T, not the features the bias is added to
        users = ctx.users(n)
        if users and all(u.op == "batch_norm" for u in users):
            yield Finding(
                f"`{n.path}` ({n.op}) has a bias, but feeds straight into batch norm `{users[0].path}`, which cancels it",
                ctx.attr_span(n, "bias"), hint="set `bias: false`",
                related=(Related("the batch norm is here", users[0].span),))


@rule(
    "ARC305", "dropout-before-batch-norm", "warning",
    summary="`dropout` feeds straight into `batch_norm`.",
    why="Dropout changes the variance of its output between training and inference; the batch norm "
    "after it learns running statistics under training-time variance and then sees another at "
    "inference (the 'variance shift' of Li et al., 2019), which costs accuracy. Put dropout after the "
    "last batch norm, e.g. just before the classifier.",
    bad="""
layers:
  - drop: {op: dropout, p: 0.5}
  - bn:   {op: batch_norm}
""",
    good="""
layers:
  - bn:   {op: batch_norm}
  - drop: {op: dropout, p: 0.5}
""",
)
def dropout_before_batch_norm(ctx: LintContext) -> Iterator[Finding]:
    for n in ctx.graph.nodes:
        if n.op != "dropout" or not ctx.attr(n, "p", 0):
            continue
        bn = next((u for u in ctx.users(n) if u.op == "batch_norm"), None)
        if bn is not None:
            yield Finding(f"dropout `{n.path}` feeds straight into batch norm `{bn.path}`", n.span,
                          hint="move the dropout after the batch norm (or drop one of them)",
                          related=(Related("the batch norm is here", bn.span),))
