"""op: swiglu: LLaMA's gated feed-forward block, `w2(silu(w1(x)) * w3(x))`.

Registered exactly like a built-in op (attribute schema, shape rule, parameter shapes, lowering,
doc, example, cost rule, traits). Only the public API is used: `archc.ops` and `archc.ir.types`.
Like the built-ins, this module does not import torch: the lowering imports it when called, so
`archc check`'s front end and `archc lint` stay torch-free with the plugin installed.
"""
from __future__ import annotations

from typing import Optional, Sequence

from pydantic import Field

from archc.ir.types import FLOAT_DTYPES, ShapeError, TensorType
from archc.ops import Attrs, Cost, InferContext, Traits, numel, register


class SwiGLUAttrs(Attrs):
    hidden: int = Field(gt=0, description="the gated hidden width (LLaMA-7B: 11008 for dim 4096)")
    out: Optional[int] = Field(None, gt=0, description="output features (default: the input features)")
    bias: bool = Field(False, description="biases on w1, w2, w3 (LLaMA has none)")


def _dim(x: TensorType) -> int:
    d = x.shape[-1] if x.rank else None
    if not isinstance(d, int):
        raise ShapeError("ARC204", f"`swiglu` needs a fixed number of input features (last dim), got `{x.shape_str()}`",
                         hint="this size must be a number, not a symbol", input_index=0)
    return d


def _infer(ctx: InferContext, a: SwiGLUAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    if x.rank < 1:
        raise ShapeError("ARC205", f"`swiglu` expects an input of rank >= 1 [..., dim], but input 0 has shape {x.shape_str()}",
                         input_index=0)
    if x.dtype not in FLOAT_DTYPES:
        raise ShapeError("ARC202", f"`swiglu` needs a floating-point input, but input 0 is {x.dtype}",
                         hint="cast the tensor to a float dtype first", input_index=0)
    dim = _dim(x)
    return x.with_shape(x.shape[:-1] + (a.out or dim,))


def _params(a: SwiGLUAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    dim = _dim(ins[0])
    out = a.out or dim
    p = {"w1.weight": (a.hidden, dim), "w2.weight": (out, a.hidden), "w3.weight": (a.hidden, dim)}
    if a.bias:
        p.update({"w1.bias": (a.hidden,), "w2.bias": (out,), "w3.bias": (a.hidden,)})
    return dict(sorted(p.items()))


def _lower(a: SwiGLUAttrs, ins: Sequence[TensorType], out: TensorType):
    from archc_plugin_example._modules import SwiGLU  # torch, imported only when lowering

    dim = _dim(ins[0])
    return SwiGLU(dim, a.hidden, a.out or dim, bias=a.bias)


def _cost(node, ins: Sequence[TensorType], env) -> Cost:
    """The convention's rules (`archc.profile.convention`): three linear layers (w1, w3: dim ->
    hidden, w2: hidden -> out), silu 5 FLOPs and the gating mul 1 per hidden element, a bias 1 per
    output element of each linear."""
    a = node.attrs
    dim = _dim(ins[0])
    out = a.out or dim
    tokens = numel(node.out, env) // out
    macs = tokens * (2 * dim * a.hidden + a.hidden * out)
    bias = tokens * (2 * a.hidden + out) if a.bias else 0
    return Cost(macs, 2 * macs + tokens * a.hidden * (5 + 1) + bias)


register(
    "swiglu",
    attrs=SwiGLUAttrs,
    infer=_infer,
    params=_params,
    lower=_lower,
    family="mlp",
    doc="LLaMA's gated feed-forward block: w2(silu(w1(x)) * w3(x)); the input features are inferred.",
    shape_doc="[..., dim] -> [..., out] (out defaults to dim); any rank >= 1; `dim` must be static.",
    lowers_to="archc_plugin_example._modules.SwiGLU (three torch.nn.Linear: w1 gate, w3 up, w2 down)",
    example="{op: swiglu, hidden: 32}",
    example_inputs=[(2, 5, 16)],
    cost=_cost,
    # a layer of depth whose weights the spec's `init:` sets (its three Linear `w*.weight`); drawn
    # in its own colour family (not in archc.draw.dot's table: a fallback colour by name)
    traits=Traits(weighted=True, init=True, picture="gated-mlp"),
)
