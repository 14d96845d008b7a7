"""ARC501 onnx-unsupported: ops and attributes that `torch.onnx.export` cannot write at `--opset`.

The table is reasoned from the ONNX operator changelog and from what the exporter emits: torch's
default (dynamo) exporter translates aten ops with onnxscript's torch_lib, written against opset 18
(`torch_lib/ops/nn.py`, `core.py`), and converts to other opsets with `onnx.version_converter`,
which cannot go below the opset where an op first appeared. Entries:

- conv `padding_mode: circular`: torch_lib lowers circular padding to `Pad(mode="wrap")`, and
  `wrap` exists from Pad-19 (ONNX opset 19); at opset <= 18 the model is invalid.
- `layer_norm`: torch_lib emits `LayerNormalization`, introduced in opset 17.
- `mish`: `Mish` exists from opset 18; `hardswish`: `HardSwish` from opset 14.
- `upsample`/`interpolate` other than `nearest`: `Resize` gained `coordinate_transformation_mode`
  (align_corners, half_pixel) and cubic mode in opset 11; `Resize` itself is opset 10.

Checked and deliberately not listed: `adaptive_max_pool*` with an output other than 1 (the legacy
TorchScript exporter refused non-divisible sizes, but torch decomposes it for the dynamo exporter),
`rnn` (decomposed), bicubic with `align_corners` (Resize-11 `align_corners` mode), `rms_norm`,
`group_norm`, `gelu(approximate=tanh)` and attention (composed from opset-18 ops).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple

from archc.ir.graph import Node
from archc.lint._context import LintContext
from archc.lint._registry import Finding, rule


class Limit(NamedTuple):
    ops: frozenset[str]
    applies: Callable[[Any], bool]     # attrs -> does this entry apply
    attr: str | None                   # the attribute to point at
    min_opset: int
    what: str
    hint: str


_CONVS = frozenset({"conv1d", "conv2d", "conv3d"})
_RESIZE = frozenset({"upsample", "interpolate"})

TABLE: tuple[Limit, ...] = (
    Limit(_CONVS, lambda a: getattr(a, "padding_mode", "zeros") == "circular", "padding_mode", 19,
          "circular padding is ONNX `Pad` mode `wrap`, which needs opset 19",
          "export with --opset 19 or later, or use `padding_mode: reflect` / `replicate`"),
    Limit(frozenset({"layer_norm"}), lambda a: True, None, 17,
          "ONNX `LayerNormalization` needs opset 17", "export with --opset 17 or later"),
    Limit(frozenset({"mish"}), lambda a: True, None, 18, "ONNX `Mish` needs opset 18",
          "export with --opset 18 or later, or use `silu`"),
    Limit(frozenset({"hardswish"}), lambda a: True, None, 14, "ONNX `HardSwish` needs opset 14",
          "export with --opset 14 or later"),
    Limit(_RESIZE, lambda a: getattr(a, "mode", "nearest") != "nearest", "mode", 11,
          "ONNX `Resize` with linear/cubic modes and torch's coordinate conventions needs opset 11",
          "export with --opset 11 or later"),
    Limit(_RESIZE, lambda a: True, None, 10, "ONNX `Resize` needs opset 10", "export with --opset 10 or later"),
)


def limits(node: Node) -> Iterator[Limit]:
    for lim in TABLE:
        if node.op in lim.ops:
            try:
                ok = lim.applies(node.attrs)
            except Exception:
                ok = False
            if ok:
                yield lim



@rule(
    "ARC501", "onnx-unsupported", "warning",
    summary="An op or attribute that torch's ONNX exporter cannot write at the chosen opset (`--opset`, default 18).",
    why="`archc build --emit onnx` (and any `torch.onnx.export` of the model) would fail or write an "
    "invalid model; finding it at lint time, with the spec line, is cheaper than in a deployment "
    "pipeline. The table of limits and its sources are in `archc/lint/rules/arc501_onnx_unsupported.py`.",
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
        for lim in limits(n):
            if ctx.opset < lim.min_opset:
                span = ctx.attr_span(n, lim.attr) if lim.attr else n.span
                yield Finding(f"`{n.path}` ({n.op}) cannot be exported to ONNX opset {ctx.opset}: {lim.what}",
                              span, hint=lim.hint)
                break
