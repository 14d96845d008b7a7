"""op: linear: a fully connected layer on the last dim; the input features are inferred."""
from __future__ import annotations

from typing import Sequence

from pydantic import Field

from archc.ir.types import TensorType
from archc.ops._cost import Cost, numel, size
from archc.ops._registry import Attrs, InferContext, Traits, rank_error, register
from archc.ops.tensor import require_float, static_dim


class LinearAttrs(Attrs):
    out: int = Field(gt=0, description="output features")
    bias: bool = True


def _in_features(x: TensorType) -> int:
    return static_dim("linear", x.shape[-1], "number of input features (last dim)")


def _linear_infer(ctx: InferContext, a: LinearAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    if x.rank < 1:
        raise rank_error("linear", "an input of rank >= 1 [..., in]", x)
    require_float("linear", x)
    _in_features(x)
    return x.with_shape(x.shape[:-1] + (a.out,))


def _linear_params(a: LinearAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    p = {"weight": (a.out, _in_features(ins[0]))}
    if a.bias:
        p["bias"] = (a.out,)
    return p


def _linear_lower(a: LinearAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch.nn as nn

    return nn.Linear(_in_features(ins[0]), a.out, bias=a.bias)


def _linear_cost(node, ins, env) -> Cost:
    """MACs out_elems * in_features; FLOPs 2 * MACs + the bias per output element."""
    out = numel(node.out, env)
    macs = out * size(ins[0].shape[-1], env)
    return Cost(macs, 2 * macs + (out if node.attrs.bias else 0))


register(
    "linear",
    attrs=LinearAttrs,
    infer=_linear_infer,
    params=_linear_params,
    lower=_linear_lower,
    cost=_linear_cost,
    family="linear",
    doc="Fully connected layer on the last dim; the input features are inferred from the input.",
    shape_doc="[..., in] -> [..., out]; any rank >= 1; `in` must be static.",
    lowers_to="torch.nn.Linear",
    traits=Traits(weighted=True, width="out", bias="bias", width_dim=-1, overwritable=True, init=True),
    example="{op: linear, out: 16}",
    example_inputs=[(2, 5, 8)],
)
