"""op: dropout, drop_path (stochastic depth). Both are modules, so `.eval()` turns them off."""
from __future__ import annotations

from typing import Sequence

from pydantic import Field

from archc.ir.types import TensorType
from archc.ops._cost import no_arithmetic
from archc.ops._registry import Attrs, InferContext, Traits, register


class DropoutAttrs(Attrs):
    p: float = Field(0.5, ge=0, lt=1, description="probability of zeroing an element")


class DropPathAttrs(Attrs):
    p: float = Field(0.0, ge=0, lt=1, description="probability of dropping a whole sample's residual branch")


def _identity_infer(ctx: InferContext, a, ins: Sequence[TensorType]) -> TensorType:
    return ins[0]


def _dropout_lower(a: DropoutAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch.nn as nn

    return nn.Dropout(a.p)


def _drop_path_lower(a: DropPathAttrs, ins: Sequence[TensorType], out: TensorType):
    from archc.ops._modules import DropPath

    return DropPath(a.p)


register(
    "dropout",
    attrs=DropoutAttrs,
    infer=_identity_infer,
    lower=_dropout_lower,
    cost=no_arithmetic,  # identity in eval
    family="regularize",
    doc="Dropout: zero elements with probability p in training (scaled by 1/(1-p)); identity in eval.",
    shape_doc="output = input.",
    lowers_to="torch.nn.Dropout",
    traits=Traits(role="pass", aliases=True),
    example="{op: dropout, p: 0.1}",
    example_inputs=[(2, 5, 8)],
)
register(
    "drop_path",
    attrs=DropPathAttrs,
    infer=_identity_infer,
    lower=_drop_path_lower,
    cost=no_arithmetic,  # identity in eval
    family="regularize",
    doc="Stochastic depth: drop a whole sample (dim 0) with probability p in training, like "
    "torchvision.ops.StochasticDepth(mode='row'); identity in eval or when p is 0.",
    shape_doc="output = input.",
    lowers_to="archc.ops._modules.DropPath",
    traits=Traits(role="pass", aliases=True),
    example="{op: drop_path, p: 0.1}",
    example_inputs=[(2, 5, 8)],
)
