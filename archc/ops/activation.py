"""op: relu, gelu, silu, sigmoid, tanh, softmax, hardswish, mish, leaky_relu (param-free, shape-preserving)."""
from __future__ import annotations

from typing import Callable, Literal, Sequence

from pydantic import Field

from archc.ir.types import TensorType
from archc.ops._cost import per_output_element
from archc.ops._registry import Attrs, Call, InferContext, NoAttrs, OnnxLimit, Traits, register
from archc.ops.tensor import norm_dim, require_float


class GeluAttrs(Attrs):
    approximate: Literal["none", "tanh"] = "none"


class SoftmaxAttrs(Attrs):
    dim: int = Field(-1, description="the dim the probabilities sum to 1 over")


class LeakyReluAttrs(Attrs):
    negative_slope: float = 0.01


def _infer(op: str, needs_float: bool):
    def infer(ctx: InferContext, a, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        if needs_float:
            require_float(op, x)
        if isinstance(a, SoftmaxAttrs):
            norm_dim(op, a.dim, x.rank)
        return x

    return infer


def _fn(path: str) -> Callable:
    import torch

    obj = torch
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _lower(path: str, kwargs_of: Callable, inplace: str | None):
    def lower(a, ins: Sequence[TensorType], out: TensorType):
        return Call(_fn(path), kwargs=kwargs_of(a), inplace=_fn(inplace) if inplace else None)

    return lower


_NONE = lambda a: {}  # noqa: E731
_ACTS = [
    # name, attrs, torch function, kwargs, needs float, doc
    ("relu", NoAttrs, "torch.nn.functional.relu", _NONE, False, "max(x, 0)."),
    ("gelu", GeluAttrs, "torch.nn.functional.gelu", lambda a: {"approximate": a.approximate}, True,
     "Gaussian error linear unit (`approximate: tanh` for the tanh form)."),
    ("silu", NoAttrs, "torch.nn.functional.silu", _NONE, True, "x * sigmoid(x) (swish)."),
    ("sigmoid", NoAttrs, "torch.sigmoid", _NONE, True, "1 / (1 + exp(-x))."),
    ("tanh", NoAttrs, "torch.tanh", _NONE, True, "Hyperbolic tangent."),
    ("softmax", SoftmaxAttrs, "torch.nn.functional.softmax", lambda a: {"dim": a.dim}, True,
     "Softmax over `dim` (default the last)."),
    ("hardswish", NoAttrs, "torch.nn.functional.hardswish", _NONE, True, "x * relu6(x + 3) / 6 (MobileNetV3)."),
    ("mish", NoAttrs, "torch.nn.functional.mish", _NONE, True, "x * tanh(softplus(x))."),
    ("leaky_relu", LeakyReluAttrs, "torch.nn.functional.leaky_relu",
     lambda a: {"negative_slope": a.negative_slope}, True, "x if x > 0 else negative_slope * x."),
]
# FLOPs per element (the convention's `activations_per_element`): sigmoid 4 (neg, exp, add,
# reciprocal), tanh 4, silu 5, gelu 8 (either approximation), hardswish 5, mish 8; softmax 5 (max,
# subtract, exp, sum, divide). Recurrent cells and attention scores count theirs from this table.
FLOPS_PER_ELEMENT = {
    "relu": 1, "leaky_relu": 2, "sigmoid": 4, "tanh": 4, "silu": 5, "gelu": 8, "hardswish": 5,
    "mish": 8, "softmax": 5,
}
# ONNX: `HardSwish` exists from opset 14, `Mish` from opset 18.
_TRAITS = {
    "relu": Traits(role="activation", inplace=True),
    "softmax": Traits(role="probability"),
    "hardswish": Traits(role="activation", onnx=(OnnxLimit(14, "ONNX `HardSwish` needs opset 14",
                                                           "export with --opset 14 or later"),)),
    "mish": Traits(role="activation", onnx=(OnnxLimit(18, "ONNX `Mish` needs opset 18",
                                                      "export with --opset 18 or later, or use `silu`"),)),
}
_INPLACE = {"relu": "torch.relu_"}
_EXAMPLES = {
    "gelu": "{op: gelu, approximate: tanh}",
    "softmax": "{op: softmax, dim: -1}",
    "leaky_relu": "{op: leaky_relu, negative_slope: 0.2}",
}

for _name, _attrs, _path, _kw, _float, _doc in _ACTS:
    register(
        _name,
        attrs=_attrs,
        infer=_infer(_name, _float),
        lower=_lower(_path, _kw, _INPLACE.get(_name)),
        cost=per_output_element(FLOPS_PER_ELEMENT[_name]),
        family="activation",
        doc=_doc,
        shape_doc="output = input" + ("; `dim` must be in range." if _name == "softmax" else "."),
        lowers_to=_path,
        traits=_TRAITS.get(_name, Traits(role="activation")),
        example=_EXAMPLES.get(_name, f"{{op: {_name}}}"),
        example_inputs=[(2, 5, 8)],
    )
