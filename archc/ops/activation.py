"""op: relu, gelu, silu, sigmoid, tanh, softmax, hardswish, mish, leaky_relu, relu6, hardtanh, hardsigmoid,
elu, selu, celu, softplus, softsign, quick_gelu, log_softmax (param-free, shape-preserving); prelu (a
learned slope) and glu (halves a dim)."""
from __future__ import annotations

import importlib
from typing import Callable, Literal, Sequence, Union

from pydantic import Field, model_validator

from archc.ir.dims import equal, floordiv
from archc.ir.types import ShapeError, TensorType
from archc.ops._cost import per_output_element
from archc.ops._registry import Attrs, Call, InferContext, NoAttrs, OnnxLimit, Traits, rank_error, register
from archc.ops.tensor import norm_dim, require_float, static_dim


class GeluAttrs(Attrs):
    approximate: Literal["none", "tanh"] = "none"


class SoftmaxAttrs(Attrs):
    dim: int = Field(-1, description="the dim the probabilities sum to 1 over")


class LeakyReluAttrs(Attrs):
    negative_slope: float = 0.01


class HardtanhAttrs(Attrs):
    min_val: float = Field(-1.0, description="the lower bound")
    max_val: float = Field(1.0, description="the upper bound; above `min_val`")

    @model_validator(mode="after")
    def _ordered(self) -> "HardtanhAttrs":
        if not self.max_val > self.min_val:
            raise ValueError(f"`max_val` ({self.max_val}) must be greater than `min_val` ({self.min_val})")
        return self


class EluAttrs(Attrs):
    alpha: float = Field(1.0, description="the value the negative side saturates to is -alpha")


class CeluAttrs(Attrs):
    alpha: float = Field(1.0, description="the scale of the negative side; not 0")

    @model_validator(mode="after")
    def _nonzero(self) -> "CeluAttrs":
        if self.alpha == 0:
            raise ValueError("`alpha` must not be 0 (celu divides by it)")
        return self


class SoftplusAttrs(Attrs):
    beta: float = Field(1.0, gt=0, description="softplus is log(1 + exp(beta x)) / beta")
    threshold: float = Field(20.0, description="above beta x > threshold the output is x (numerical stability)")


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
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


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
    ("relu6", NoAttrs, "torch.nn.functional.relu6", _NONE, False, "min(max(x, 0), 6) (MobileNet)."),
    ("hardtanh", HardtanhAttrs, "torch.nn.functional.hardtanh",
     lambda a: {"min_val": a.min_val, "max_val": a.max_val}, False, "x limited to [min_val, max_val]."),
    ("hardsigmoid", NoAttrs, "torch.nn.functional.hardsigmoid", _NONE, True,
     "relu6(x + 3) / 6 (MobileNetV3's squeeze-excitation gate)."),
    ("elu", EluAttrs, "torch.nn.functional.elu", lambda a: {"alpha": a.alpha}, True,
     "x if x > 0 else alpha * (exp(x) - 1)."),
    ("selu", NoAttrs, "torch.nn.functional.selu", _NONE, True,
     "scale * elu(x, alpha) with the self-normalising constants (scale 1.0507, alpha 1.6733)."),
    ("celu", CeluAttrs, "torch.nn.functional.celu", lambda a: {"alpha": a.alpha}, True,
     "max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."),
    ("softplus", SoftplusAttrs, "torch.nn.functional.softplus", lambda a: {"beta": a.beta, "threshold": a.threshold},
     True, "log(1 + exp(beta x)) / beta, and x where beta x > threshold."),
    ("softsign", NoAttrs, "torch.nn.functional.softsign", _NONE, True, "x / (1 + |x|)."),
    ("quick_gelu", NoAttrs, "archc.ops._mathfns.quick_gelu", _NONE, True,
     "x * sigmoid(1.702 x): the GELU approximation of OpenAI's CLIP."),
    ("log_softmax", SoftmaxAttrs, "torch.nn.functional.log_softmax", lambda a: {"dim": a.dim}, True,
     "log(softmax(x)) over `dim` (default the last), computed stably."),
]
# FLOPs per element (the convention's `activations_per_element`): sigmoid 4 (neg, exp, add,
# reciprocal), tanh 4, silu 5, gelu 8 (either approximation), hardswish 5, mish 8; softmax 5 (max,
# subtract, exp, sum, divide). Recurrent cells and attention scores count theirs from this table.
# relu6 2 and hardtanh 2 (max, min); hardsigmoid 4 (add, max, min, divide); elu 4 (exp, subtract,
# multiply, select); selu 5 (elu and the scale); celu 7 (divide, exp, subtract, multiply, min, max,
# add); softplus 6 (multiply, exp, add, log, divide, the threshold's select); softsign 3 (abs, add,
# divide); quick_gelu 6 (multiply, sigmoid's 4, multiply); log_softmax 5 (max, subtract, exp, sum,
# subtract the log-sum); prelu 2 (select, multiply); glu 5 per output element (sigmoid's 4, multiply),
# which halves the input, so it is not in this per-element table (GLU_FLOPS_PER_OUTPUT).
FLOPS_PER_ELEMENT = {
    "relu": 1, "leaky_relu": 2, "sigmoid": 4, "tanh": 4, "silu": 5, "gelu": 8, "hardswish": 5,
    "mish": 8, "softmax": 5, "relu6": 2, "hardtanh": 2, "hardsigmoid": 4, "elu": 4, "selu": 5, "celu": 7,
    "softplus": 6, "softsign": 3, "quick_gelu": 6, "log_softmax": 5, "prelu": 2,
}
GLU_FLOPS_PER_OUTPUT = 5  # per element of glu's output, half its input: not a per-element activation
# ONNX: `HardSwish` exists from opset 14, `Mish` from opset 18 (HardSigmoid, Elu, Selu, Celu, Softplus,
# Softsign and PRelu are in every opset the exporter writes).
_TRAITS = {
    "relu": Traits(role="activation", inplace=True),
    "softmax": Traits(role="probability"),
    "log_softmax": Traits(),    # log-probabilities: idempotent, so neither an activation nor ARC307's softmax
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
    "hardtanh": "{op: hardtanh, min_val: -2.0, max_val: 2.0}",
    "elu": "{op: elu, alpha: 0.5}",
    "celu": "{op: celu, alpha: 2.0}",
    "softplus": "{op: softplus, beta: 2.0, threshold: 10.0}",
    "log_softmax": "{op: log_softmax, dim: 1}",
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
        shape_doc="output = input" + ("; `dim` must be in range." if _name in ("softmax", "log_softmax") else "."),
        lowers_to=_path,
        traits=_TRAITS.get(_name, Traits(role="activation")),
        example=_EXAMPLES.get(_name, f"{{op: {_name}}}"),
        example_inputs=[(2, 5, 8)],
    )


# ---------------------------------------------------------------------------------------------
# prelu (a learned slope), glu (halves a dim)
# ---------------------------------------------------------------------------------------------


class PreluAttrs(Attrs):
    num_parameters: Union[Literal[1], Literal["channels"]] = Field(
        1, description="1: one slope shared by every channel; `channels`: one slope per channel (dim 1), inferred")
    init: float = Field(0.25, description="the initial slope")


def _prelu_count(a: PreluAttrs, x: TensorType) -> int:
    if a.num_parameters == 1:
        return 1
    if x.rank < 2:
        raise rank_error("prelu", "an input of rank >= 2 with `num_parameters: channels` (the channels are dim 1)", x)
    return static_dim("prelu", x.shape[1], "number of channels (dim 1)")


def _prelu_infer(ctx: InferContext, a: PreluAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    require_float("prelu", x)
    _prelu_count(a, x)
    return x


def _prelu_params(a: PreluAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    return {"weight": (_prelu_count(a, ins[0]),)}


def _prelu_lower(a: PreluAttrs, ins, out):
    import torch.nn as nn

    return nn.PReLU(num_parameters=_prelu_count(a, ins[0]), init=a.init)


register(
    "prelu",
    attrs=PreluAttrs,
    infer=_prelu_infer,
    lower=_prelu_lower,
    params=_prelu_params,
    cost=per_output_element(FLOPS_PER_ELEMENT["prelu"]),
    family="activation",
    doc="x if x > 0 else weight * x, with a learned slope `weight` (one, or one per channel), as torch.nn.PReLU.",
    shape_doc="output = input; `num_parameters: channels` reads the (static) channels from dim 1 of a rank >= 2 "
    "input; the parameter `weight` has shape [num_parameters].",
    lowers_to="torch.nn.PReLU",
    traits=Traits(role="activation"),
    example="{op: prelu, num_parameters: channels}",
    example_inputs=[(2, 5, 8)],
)


class GluAttrs(Attrs):
    dim: int = Field(-1, description="the dim split in halves a and b: the output is a * sigmoid(b)")


def _glu_infer(ctx: InferContext, a: GluAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    require_float("glu", x)
    d = norm_dim("glu", a.dim, x.rank)
    L = x.shape[d]
    if isinstance(L, int):
        if L % 2:
            raise ShapeError("ARC204", f"`glu` halves dim {a.dim}, but it has the odd size {L}",
                             hint="glu splits the dim into two equal halves", input_index=0)
        half = L // 2
    else:
        half = floordiv(L, 2)
        if not equal(half * 2, L):
            ctx.require_equal(half * 2, L, f"`glu` size of dim {a.dim} even")
    shape = list(x.shape)
    shape[d] = half
    return x.with_shape(shape)


def _glu_lower(a: GluAttrs, ins, out):
    import torch.nn.functional as F

    return Call(F.glu, kwargs={"dim": a.dim})


register(
    "glu",
    attrs=GluAttrs,
    infer=_glu_infer,
    lower=_glu_lower,
    cost=per_output_element(GLU_FLOPS_PER_OUTPUT),
    family="activation",
    doc="Gated linear unit: the input split in halves a, b along `dim`, output a * sigmoid(b).",
    shape_doc="dim `dim` is halved; its size must be even (a symbolic size records the constraint).",
    lowers_to="torch.nn.functional.glu",
    traits=Traits(role="activation"),
    example="{op: glu, dim: 1}",
    example_inputs=[(2, 6, 4)],
)
