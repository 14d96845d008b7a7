"""ARC501 onnx-unsupported: ops and attributes that `torch.onnx.export` cannot write at `--opset`.

The limits live on the ops, as `Traits(onnx=(OnnxLimit(...), ...))` in each op's registration (most
demanding first), with the reasoning next to each: `archc/ops/conv.py` (circular padding),
`archc/ops/norm.py` (`layer_norm`), `archc/ops/activation.py` (`mish`, `hardswish`) and
`archc/ops/resize.py` (`upsample`/`interpolate`), `archc/ops/attention.py` (`sdpa` on inputs
other than 4-D, at any opset). They are reasoned from the ONNX operator changelog
and from what the exporter emits: torch's default (dynamo) exporter translates aten ops with
onnxscript's torch_lib, written against opset 18 (`torch_lib/ops/nn.py`, `core.py`), and converts
to other opsets with `onnx.version_converter`, which cannot go below the opset where an op first
appeared.

Checked and deliberately not listed: `adaptive_max_pool*` with an output other than 1 (the legacy
TorchScript exporter refused non-divisible sizes, but torch decomposes it for the dynamo exporter),
`rnn` (decomposed), bicubic with `align_corners` (Resize-11 `align_corners` mode), `rms_norm`,
`group_norm`, `gelu(approximate=tanh)` and the attention layers (composed from opset-18 ops).
"""
from __future__ import annotations

from typing import Iterator

from archc.ir.graph import Graph, Node
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule
from archc.ops import OPS, OnnxLimit
from archc.ops._registry import _always


def limits(node: Node, graph: Graph | None = None) -> Iterator[OnnxLimit]:
    """The op's ONNX limits (its traits, most demanding first) that apply to this use of it (its
    attributes; and its input types, read from `graph`: a limit on them needs it)."""
    op = OPS.get(node.op)
    for lim in (op.traits.onnx if op is not None else ()):
        try:
            ok = lim.applies(node.attrs)
            if ok and lim.inputs is not _always:
                ok = graph is not None and bool(lim.inputs([graph.type_of(r) for r in node.inputs]))
        except Exception:
            ok = False
        if ok:
            yield lim


@rule(
    "ARC501", "onnx-unsupported", "warning",
    summary="An op or attribute that torch's ONNX exporter cannot write at the chosen opset (`--opset`, default 18).",
    why="`archc build --emit onnx` (and any `torch.onnx.export` of the model) would fail or write an "
    "invalid model; finding it at lint time, with the spec line, is cheaper than in a deployment "
    "pipeline. Each op declares its limits (`Traits.onnx`), with their sources, in its registration under `archc/ops/`.",
    bad="""
layers:
  - conv: {op: conv2d, out: 64, kernel: 3, padding: 1, padding_mode: circular}   # needs opset 19
""",
    good="""
layers:
  - conv: {op: conv2d, out: 64, kernel: 3, padding: 1, padding_mode: reflect}
""",
)
def onnx_unsupported(ctx: LintContext) -> Iterator[Finding]:
    for n in ctx.graph.nodes:
        for lim in limits(n, ctx.graph):
            if lim.min_opset is None or ctx.opset < lim.min_opset:
                span = ctx.attr_span(n, lim.attr) if lim.attr else n.span
                at = "at any opset" if lim.min_opset is None else f"opset {ctx.opset}"
                yield Finding(f"`{n.path}` ({n.op}) cannot be exported to ONNX {at}: {lim.what}",
                              span, hint=lim.hint)
                break
