"""op: elementwise math: sub, div, pow, minimum, maximum, comparisons (eq, ne, lt, le, gt, ge), where;
neg, abs, exp, log, sqrt, rsqrt, sin, cos; clamp; cast.

Binary ops broadcast as `add` and `mul` do (`archc.ops.tensor.broadcast`) and take numbers as
operands (`{op: sub, from: [1, x]}`), promoted as torch promotes python scalars
(`archc.ops.tensor.operand_dtype`).
"""
from __future__ import annotations

from typing import Callable, Literal, Optional, Sequence, Union

from pydantic import Field, model_validator

from archc.ir.types import DTYPES, FLOAT_DTYPES, ShapeError, TensorType, scalar_type
from archc.ops._cost import Cost, no_arithmetic, numel, per_output_element
from archc.ops._registry import Attrs, Call, InferContext, NoAttrs, Traits, register
from archc.ops.tensor import broadcast, is_scalar, operand_dtype, require_float
Number = Union[int, float]
Dtype = Literal[DTYPES]  # type: ignore[valid-type]


def _torch(name: str) -> Callable:
    import torch

    return getattr(torch, name)


def _no_bool(op: str, ins: Sequence[TensorType], why: str) -> None:
    for i, t in enumerate(ins):
        if not is_scalar(t) and t.dtype == "bool":
            raise ShapeError(
                "ARC202", f"`{op}` {why}, but input {i} is bool",
                hint="cast it first (`{op: cast, to: int64}` or `float32`), or use a comparison or `where`",
                input_index=i,
            )


def _binary_cost(node, ins, env) -> Cost:
    """1 FLOP per output element."""
    return Cost(0, numel(node.out, env))


# ---------------------------------------------------------------------------------------------
# sub, div, pow, minimum, maximum
# ---------------------------------------------------------------------------------------------


def _binary_infer(name: str, dtype_rule: Callable[[str, Sequence[TensorType], str], str] | None = None):
    def infer(ctx: InferContext, a: NoAttrs, ins: Sequence[TensorType]) -> TensorType:
        dtype = operand_dtype(name, ins)
        if dtype_rule is not None:
            dtype = dtype_rule(name, ins, dtype)
        return TensorType(broadcast(ctx, name, [t.shape for t in ins]), dtype)

    return infer


def _sub_dtype(op: str, ins: Sequence[TensorType], dtype: str) -> str:
    _no_bool(op, ins, "cannot subtract bool tensors (torch refuses `-` on bool)")
    return dtype


def _div_dtype(op: str, ins: Sequence[TensorType], dtype: str) -> str:
    return dtype if dtype in FLOAT_DTYPES else "float32"  # true division, as torch.div


def _pow_dtype(op: str, ins: Sequence[TensorType], dtype: str) -> str:
    e = ins[1]
    if dtype not in FLOAT_DTYPES and is_scalar(e) and isinstance(e.value, int) and e.value < 0:
        raise ShapeError(
            "ARC202", f"`pow` of an integer tensor to the negative integer power {e.value} (torch refuses it)",
            hint=f"write the exponent as a float ({float(e.value)}) or cast the base to a float dtype",
            input_index=1,
        )
    return dtype


def _lower_plain(fn: str):
    def lower(a, ins, out):
        return Call(_torch(fn))

    return lower


def _lower_extremum(fn: str, clamp: str, scalar_first: str):
    def lower(a, ins, out):
        from archc.ops import _mathfns

        if is_scalar(ins[0]):
            return Call(getattr(_mathfns, scalar_first))
        if is_scalar(ins[1]):
            return Call(_torch(clamp))
        return Call(_torch(fn))

    return lower


_PROMOTE = "; a number operand promotes as torch promotes python scalars"
_BINARY = [
    # name, dtype rule, lowering, lowers_to, doc, shape doc (after broadcasting), example inputs, example
    ("sub", _sub_dtype, _lower_plain("sub"), "torch.sub", "Elementwise difference `a - b` (`from: [1, x]` is 1 - x).",
     "broadcast like `add`; tensors share a dtype" + _PROMOTE + "; bool inputs are refused.",
     [(2, 3, 4), (4,)], "{op: sub}"),
    ("div", _div_dtype, _lower_plain("div"), "torch.div", "Elementwise true division `a / b` (integers give float32).",
     "broadcast like `add`; tensors share a dtype" + _PROMOTE + "; an integer result becomes float32.",
     [(2, 3, 1), (2, 1, 4)], "{op: div}"),
    ("pow", _pow_dtype, _lower_plain("pow"), "torch.pow", "Elementwise power `a ** b` (`from: [x, 2]` squares).",
     "broadcast like `add`; tensors share a dtype" + _PROMOTE + "; an integer tensor to a negative integer "
     "power is refused.", [(2, 3, 4), (2, 3, 4)], "{op: pow}"),
    ("minimum", None, _lower_extremum("minimum", "clamp_max", "minimum_scalar_first"),
     "torch.minimum (torch.clamp_max with a number, archc.ops._mathfns.minimum_scalar_first before the tensor)", "Elementwise minimum of two operands.",
     "broadcast like `add`; tensors share a dtype" + _PROMOTE + ".", [(2, 3, 4), (3, 1)], "{op: minimum}"),
    ("maximum", None, _lower_extremum("maximum", "clamp_min", "maximum_scalar_first"),
     "torch.maximum (torch.clamp_min with a number, archc.ops._mathfns.maximum_scalar_first before the tensor)", "Elementwise maximum of two operands (`from: [x, 0]` is relu).",
     "broadcast like `add`; tensors share a dtype" + _PROMOTE + ".", [(2, 3, 4), (3, 1)], "{op: maximum}"),
]

for _name, _rule, _lower, _to, _doc, _sdoc, _inputs, _example in _BINARY:
    register(
        _name,
        infer=_binary_infer(_name, _rule),
        lower=_lower,
        cost=_binary_cost,
        family="math",
        arity=(2, 2),
        doc=_doc,
        shape_doc=_sdoc,
        lowers_to=_to,
        traits=Traits(role="merge"),
        scalars=True,
        example=_example,
        example_inputs=_inputs,
    )

# ---------------------------------------------------------------------------------------------
# comparisons
# ---------------------------------------------------------------------------------------------

_COMPARE = [("eq", "==", "equal"), ("ne", "!=", "not equal"), ("lt", "<", "less than"),
            ("le", "<=", "less than or equal"), ("gt", ">", "greater than"), ("ge", ">=", "greater than or equal")]


def _compare_infer(name: str):
    def infer(ctx: InferContext, a: NoAttrs, ins: Sequence[TensorType]) -> TensorType:
        operand_dtype(name, ins)
        return TensorType(broadcast(ctx, name, [t.shape for t in ins]), "bool")

    return infer


def _compare_lower(name: str):
    def lower(a, ins, out):
        from archc.ops import _mathfns

        # torch.lt(number, tensor) does not exist; `number < tensor` is `tensor > number`
        return Call(getattr(_mathfns, f"{name}_scalar_first") if is_scalar(ins[0]) else _torch(name))

    return lower


for _name, _sym, _words in _COMPARE:
    register(
        _name,
        infer=_compare_infer(_name),
        lower=_compare_lower(_name),
        cost=_binary_cost,
        family="math",
        arity=(2, 2),
        doc=f"Elementwise `a {_sym} b` ({_words}): a bool tensor.",
        shape_doc="broadcast like `add`; tensors share a dtype (a number operand may be of any kind); the result is bool.",
        lowers_to=f"torch.{_name} (archc.ops._mathfns.{_name}_scalar_first when the first operand is a number)",
        traits=Traits(role="merge"),
        scalars=True,
        example=f"{{op: {_name}}}",
        example_inputs=[(2, 3, 4), (4,)],
    )

# ---------------------------------------------------------------------------------------------
# where
# ---------------------------------------------------------------------------------------------


def _where_infer(ctx: InferContext, a: NoAttrs, ins: Sequence[TensorType]) -> TensorType:
    cond = ins[0]
    if is_scalar(cond):
        raise ShapeError("ARC102", f"`where` needs a bool tensor as its condition (input 0), got {cond}",
                         hint="`from: [condition, a, b]`: the condition is a tensor; a and b may be numbers",
                         input_index=0)
    if cond.dtype != "bool":
        raise ShapeError("ARC202", f"`where` needs a bool condition, but input 0 is {cond.dtype}",
                         hint="compare first (`{op: gt, from: [x, 0]}`)", input_index=0)
    dtype = operand_dtype("where", ins, first=1, need_tensor=False)
    if not any(not is_scalar(t) for t in ins[1:]):  # two numbers: torch's default dtype of their kind
        dtype = "float32" if any(isinstance(t.value, float) for t in ins[1:]) else "int64"
    return TensorType(broadcast(ctx, "where", [t.shape for t in ins]), dtype)


def _where_lower(a, ins, out):
    import torch

    return Call(torch.where)


register(
    "where",
    infer=_where_infer,
    lower=_where_lower,
    cost=per_output_element(1),
    family="math",
    arity=(3, 3),
    doc="Elementwise choice `a if cond else b` (`from: [cond, a, b]`; a and b may be numbers).",
    shape_doc="the three broadcast like `add`; cond is a bool tensor; a and b share a dtype" + _PROMOTE + ".",
    lowers_to="torch.where",
    traits=Traits(role="merge"),
    scalars=True,
    example="{op: where}",
    example_inputs=[(2, 3, 4), (2, 3, 4), (4,)],
    example_dtypes=["bool", "float32", "float32"],
)

# ---------------------------------------------------------------------------------------------
# neg, abs, exp, log, sqrt, rsqrt, sin, cos
# ---------------------------------------------------------------------------------------------

_UNARY = [
    # name, FLOPs per element, needs a float input, doc
    ("neg", 1, False, "Elementwise negation `-x`."),
    ("abs", 1, False, "Elementwise absolute value `|x|`."),
    ("exp", 1, True, "Elementwise exponential `e ** x`."),
    ("log", 1, True, "Elementwise natural logarithm."),
    ("sqrt", 1, True, "Elementwise square root."),
    ("rsqrt", 2, True, "Elementwise reciprocal square root `1 / sqrt(x)`."),
    ("sin", 1, True, "Elementwise sine."),
    ("cos", 1, True, "Elementwise cosine."),
]


def _unary_infer(name: str, needs_float: bool):
    def infer(ctx: InferContext, a: NoAttrs, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        if needs_float:
            require_float(name, x)
        else:
            _no_bool(name, ins, "is not defined on bool")
        return x

    return infer


for _name, _flops, _float, _doc in _UNARY:
    register(
        _name,
        infer=_unary_infer(_name, _float),
        lower=_lower_plain(_name),
        cost=per_output_element(_flops),
        family="math",
        doc=_doc,
        shape_doc="output = input" + ("; the input must be floating-point." if _float else "; not bool."),
        lowers_to=f"torch.{_name}",
                example=f"{{op: {_name}}}",
        example_inputs=[(2, 3, 4)],
    )

# ---------------------------------------------------------------------------------------------
# clamp, cast
# ---------------------------------------------------------------------------------------------


class ClampAttrs(Attrs):
    min: Optional[Number] = Field(None, description="the lower bound (none: unbounded below)")
    max: Optional[Number] = Field(None, description="the upper bound (none: unbounded above)")

    @model_validator(mode="after")
    def _one_bound(self) -> "ClampAttrs":
        if self.min is None and self.max is None:
            raise ValueError("`clamp` needs `min`, `max` or both")
        return self


def _clamp_infer(ctx: InferContext, a: ClampAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    bounds = [scalar_type(v) for v in (a.min, a.max) if v is not None]
    return TensorType(x.shape, operand_dtype("clamp", [x, *bounds]))


def _clamp_cost(node, ins, env) -> Cost:
    """1 FLOP per output element and bound given."""
    return Cost(0, sum(v is not None for v in (node.attrs.min, node.attrs.max)) * numel(node.out, env))


def _clamp_lower(a: ClampAttrs, ins, out):
    import torch

    return Call(torch.clamp, kwargs={"min": a.min, "max": a.max})


register(
    "clamp",
    attrs=ClampAttrs,
    infer=_clamp_infer,
    lower=_clamp_lower,
    cost=_clamp_cost,
    family="math",
    doc="Limit every element to [min, max] (either bound may be left out; relu6 is `{op: clamp, min: 0, max: 6}`).",
    shape_doc="output = input; a float bound on an integer tensor gives float32, as torch.clamp.",
    lowers_to="torch.clamp",
        example="{op: clamp, min: -0.5, max: 0.5}",
    example_inputs=[(2, 3, 4)],
)


class CastAttrs(Attrs):
    to: Dtype = Field(description="the dtype to convert to")


def _cast_infer(ctx: InferContext, a: CastAttrs, ins: Sequence[TensorType]) -> TensorType:
    return TensorType(ins[0].shape, a.to)


def _cast_lower(a: CastAttrs, ins, out):
    import torch

    from archc.ops import _mathfns

    return Call(_mathfns.cast, kwargs={"dtype": getattr(torch, a.to)})


register(
    "cast",
    attrs=CastAttrs,
    infer=_cast_infer,
    lower=_cast_lower,
    cost=no_arithmetic,
    family="math",
    doc="Convert a tensor to another dtype (`to: float32`); floats to integers truncate toward zero.",
    shape_doc="output = input's shape, dtype `to`.",
    lowers_to="Tensor.to (archc.ops._mathfns.cast)",
        example="{op: cast, to: float16}",
    example_inputs=[(2, 3, 4)],
)
