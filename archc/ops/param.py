"""op: param, constant: tensors that are not computed from the inputs.

`param` is a node-owned learned tensor of any declared shape (a scalar `logit_scale`, a layer
scale `gamma`, learned queries, CLIP's `class_embedding`); `constant` is a tensor computed at
compile time from the spec's params (an `arange` of position ids, an `eye`, a `full` mask, a
literal table), kept as a buffer, in the state_dict or not. Both take no input: the next node
without `from:` still takes the previous node's output, so they are combined with other tensors
by naming them (`{op: mul, from: [x, gamma]}`). Their state_dict key is the node path itself,
so a spec's `logit_scale` is the reference's `logit_scale`.
"""
from __future__ import annotations

from math import prod
from typing import Any, Literal, Optional, Sequence, Union

from pydantic import Field

from archc.ir.types import DTYPES, FLOAT_DTYPES, ShapeError, TensorType
from archc.ops._cost import no_arithmetic
from archc.ops._registry import Attrs, Call, InferContext, Traits, register

FloatDType = Literal["float32", "float16", "bfloat16", "float64"]
AnyDType = Literal["float32", "float16", "bfloat16", "float64", "int64", "int32", "bool"]
Number = Union[bool, int, float]

MAX_CONSTANT_ELEMENTS = 1 << 24   # a constant is materialised at compile time: 16M elements at most


def tensor_value(t):  # noqa: ANN001, ANN201  (unannotated: TorchScript reads it as a Tensor)
    """The value of a `param` or `constant` node: its own tensor (a graph node, so the IR node
    has an fx node that computes it)."""
    return t


def _shape(op: str, shape: Sequence[int]) -> tuple[int, ...]:
    for k, d in enumerate(shape):
        if d <= 0:
            raise ShapeError("ARC204", f"`{op}` shape entry {k} is {d}; every size must be positive",
                             hint="a `param` or `constant` has a fixed shape of positive sizes (`shape: []` is a scalar)")
    return tuple(shape)


def _check_elements(op: str, n: int) -> None:
    if n > MAX_CONSTANT_ELEMENTS:
        raise ShapeError("ARC209", f"`{op}` would have {n:,} elements, over the limit of {MAX_CONSTANT_ELEMENTS:,} "
                         "for a tensor made at compile time", hint="make it smaller, or feed it as an input")


# ---------------------------------------------------------------------------------------------
# param
# ---------------------------------------------------------------------------------------------


class ParamAttrs(Attrs):
    shape: list[int] = Field(description="the tensor's shape: fixed sizes, from params expressions "
                             "(`[1, 1, \"${dim}\"]`); `[]` is a scalar")
    init: Literal["zeros", "ones", "constant", "normal", "trunc_normal", "uniform"] = Field(
        "zeros", description="initial values: zeros, ones, `constant` (every element `value`), `normal` "
        "(mean, std), `trunc_normal` (mean, std, cut at 2 std), `uniform` (low, high)")
    value: Optional[float] = Field(None, description="the value of every element under `init: constant` "
                                   "(giving `value` alone implies it: a layer scale `value: 1.0e-6`)")
    mean: float = Field(0.0, description="mean of `normal` / `trunc_normal`")
    std: float = Field(0.02, gt=0, description="std of `normal` / `trunc_normal`")
    low: float = Field(0.0, description="lower bound of `uniform`")
    high: float = Field(1.0, description="upper bound of `uniform`")
    dtype: FloatDType = Field("float32", description="the parameter's dtype (the model's dtype when it is cast)")


def _init_kind(a: ParamAttrs) -> str:
    """`init`, with `value` alone meaning `constant`; ARC102 when they disagree."""
    if a.value is not None:
        if "init" in a.model_fields_set and a.init != "constant":
            raise ShapeError("ARC102", f"`param` has `value: {a.value}`, which only `init: constant` uses "
                             f"(init is {a.init})", hint="drop `value`, or set `init: constant`")
        return "constant"
    if a.init == "constant":
        raise ShapeError("ARC103", "`param` has `init: constant` but no `value`", hint="add `value: 1.0` (the initial value)")
    if a.init == "uniform" and not a.low < a.high:
        raise ShapeError("ARC102", f"`param` has `init: uniform` with low={a.low} not below high={a.high}",
                         hint="set `low` below `high`")
    return a.init


def _param_infer(ctx: InferContext, a: ParamAttrs, ins: Sequence[TensorType]) -> TensorType:
    _init_kind(a)
    shape = _shape("param", a.shape)
    _check_elements("param", prod(shape))
    return TensorType(shape, a.dtype)


def _param_params(a: ParamAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    return {"": tuple(a.shape)}


def _param_lower(a: ParamAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch

    t = torch.empty(tuple(a.shape), dtype=getattr(torch, a.dtype))
    kind = _init_kind(a)
    with torch.no_grad():
        if kind == "zeros":
            t.zero_()
        elif kind == "ones":
            t.fill_(1.0)
        elif kind == "constant":
            t.fill_(a.value)
        elif kind == "normal":
            t.normal_(a.mean, a.std)
        elif kind == "trunc_normal":
            torch.nn.init.trunc_normal_(t, mean=a.mean, std=a.std, a=a.mean - 2 * a.std, b=a.mean + 2 * a.std)
        else:
            t.uniform_(a.low, a.high)
    return Call(tensor_value, params={"": torch.nn.Parameter(t)})


register(
    "param",
    attrs=ParamAttrs,
    infer=_param_infer,
    params=_param_params,
    lower=_param_lower,
    cost=no_arithmetic,  # it reads its own storage
    family="param",
    arity=(0, 0),
    doc="A learned tensor of a declared shape, owned by the node: its state_dict key is the node path "
    "itself (`logit_scale`, a layer scale `gamma`, learned queries, a class embedding). It takes no "
    "input; combine it with other nodes by naming it (`{op: mul, from: [x, gamma]}`).",
    shape_doc="no input -> `shape` (`[]`: a scalar), in `dtype`.",
    lowers_to="a node-owned torch.nn.Parameter (read by a get_attr node)",
    traits=Traits(aliases=True),
    example="{op: param, shape: [8], init: constant, value: 0.1}",
)

# ---------------------------------------------------------------------------------------------
# constant
# ---------------------------------------------------------------------------------------------


class ConstantAttrs(Attrs):
    arange: Optional[list[Union[int, float]]] = Field(
        None, description="`[end]`, `[start, end]` or `[start, end, step]`, as Python's range (torch.arange)")
    eye: Optional[Union[int, list[int]]] = Field(None, description="`n` (an n x n identity) or `[n, m]`")
    full: Optional[Number] = Field(None, description="every element this value (needs `shape`)")
    values: Optional[list[Any]] = Field(None, description="a literal table: a list of numbers, or nested lists "
                                        "of equal lengths")
    shape: Optional[list[int]] = Field(None, description="the result's shape: required with `full`; with `arange` "
                                       "and `values`, a reshape to a shape of the same number of elements "
                                       "(`[1, 512]` position ids)")
    dtype: Optional[AnyDType] = Field(None, description="default: int64 for integer values, bool for booleans, "
                                      "else float32")
    persistent: bool = Field(True, description="kept in the state_dict (false: a buffer outside it, as "
                             "`register_buffer(..., persistent=False)`, e.g. transformers' `position_ids`)")


_KINDS = ("arange", "eye", "full", "values")


def _kind(a: ConstantAttrs) -> str:
    given = [k for k in _KINDS if getattr(a, k) is not None]
    if len(given) != 1:
        raise ShapeError("ARC103" if not given else "ARC102",
                         "`constant` needs exactly one of `arange`, `eye`, `full`, `values`"
                         + (f"; got {', '.join(f'`{k}`' for k in given)}" if given else ""),
                         hint="e.g. `arange: [512]`, `eye: 4`, `full: 1.0` with `shape: [2, 3]`, or `values: [[0, 1], [1, 0]]`")
    return given[0]


def _table_shape(v: Any, where: str = "values") -> tuple[tuple[int, ...], list]:
    """The shape of a rectangular nested list and its flat elements (ARC102 if ragged or not numbers)."""
    if not isinstance(v, list):
        if isinstance(v, (bool, int, float)):
            return (), [v]
        raise ShapeError("ARC102", f"`constant` {where} holds {v!r}, which is not a number", hint="a table holds numbers")
    if not v:
        raise ShapeError("ARC102", f"`constant` {where} is an empty list", hint="every size must be positive")
    shapes, flat = [], []
    for k, item in enumerate(v):
        s, f = _table_shape(item, f"{where}[{k}]")
        shapes.append(s)
        flat.extend(f)
    if any(s != shapes[0] for s in shapes):
        bad = next(k for k, s in enumerate(shapes) if s != shapes[0])
        raise ShapeError("ARC102", f"`constant` values are not rectangular: `{where}[0]` has shape "
                         f"[{', '.join(map(str, shapes[0]))}] but `{where}[{bad}]` has [{', '.join(map(str, shapes[bad]))}]",
                         hint="every row of a table must have the same length")
    return (len(v),) + shapes[0], flat


def _default_dtype(numbers: Sequence[Any]) -> str:
    if all(isinstance(x, bool) for x in numbers):
        return "bool"
    if all(isinstance(x, int) for x in numbers):
        return "int64"
    return "float32"


def _arange_args(a: ConstantAttrs) -> tuple[Any, Any, Any]:
    r = list(a.arange or [])
    if not 1 <= len(r) <= 3 or any(isinstance(x, bool) for x in r):
        raise ShapeError("ARC102", f"`constant` arange is {r!r}; give `[end]`, `[start, end]` or `[start, end, step]`")
    start, end, step = (0, r[0], 1) if len(r) == 1 else (r[0], r[1], r[2] if len(r) == 3 else 1)
    if step == 0:
        raise ShapeError("ARC102", "`constant` arange has step 0", hint="a step is a non-zero number")
    return start, end, step


def _arange_len(start: Any, end: Any, step: Any) -> int:
    import math

    n = math.ceil((end - start) / step)
    return max(n, 0)


def _constant_plan(a: ConstantAttrs) -> tuple[str, tuple[int, ...], str]:
    """(kind, the result's shape, its dtype), or ShapeError."""
    kind = _kind(a)
    if kind == "arange":
        start, end, step = _arange_args(a)
        n = _arange_len(start, end, step)
        if n <= 0:
            raise ShapeError("ARC204", f"`constant` arange [{start}, {end}) by {step} is empty", hint="a constant has at least one element")
        natural, numbers = (n,), [start, end, step]
    elif kind == "eye":
        e = a.eye
        nm = [e, e] if isinstance(e, int) else list(e)
        if len(nm) not in (1, 2):
            raise ShapeError("ARC102", f"`constant` eye is {e!r}; give `n` or `[n, m]`")
        natural, numbers = tuple(nm * (2 // len(nm))), [1.0]
        _shape("constant", natural)
    elif kind == "full":
        if a.shape is None:
            raise ShapeError("ARC103", "`constant` with `full` needs `shape`", hint="add `shape: [2, 3]` (`[]`: a scalar)")
        natural, numbers = _shape("constant", a.shape), [a.full]
    else:
        natural, numbers = _table_shape(a.values)
    dtype = a.dtype or _default_dtype(numbers)
    shape = natural
    if a.shape is not None and kind != "full":
        shape = _shape("constant", a.shape)
        if prod(shape) != prod(natural):
            raise ShapeError("ARC204", f"`constant` shape [{', '.join(map(str, shape))}] has {prod(shape)} elements, but "
                             f"the {kind} has {prod(natural)} ([{', '.join(map(str, natural))}])",
                             hint="`shape` reshapes the values: it must hold as many elements")
    _check_elements("constant", prod(shape))
    if dtype not in DTYPES:  # unreachable: the attribute's type allows only these
        raise ShapeError("ARC102", f"`constant` dtype {dtype!r} is unknown")
    if kind == "arange" and dtype not in FLOAT_DTYPES and any(isinstance(x, float) for x in numbers):
        raise ShapeError("ARC202", f"`constant` arange of non-integer numbers cannot be {dtype}",
                         hint="use whole numbers, or `dtype: float32`")
    return kind, shape, dtype


def _constant_infer(ctx: InferContext, a: ConstantAttrs, ins: Sequence[TensorType]) -> TensorType:
    _, shape, dtype = _constant_plan(a)
    return TensorType(shape, dtype)


def _constant_buffers(a: ConstantAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    if not a.persistent:
        return {}
    return {"": _constant_plan(a)[1]}


def constant_tensor(a: ConstantAttrs) -> Any:
    """The constant's value as a tensor (on torch's current default device)."""
    import torch

    kind, shape, dtype = _constant_plan(a)
    dt = getattr(torch, dtype)
    if kind == "arange":
        start, end, step = _arange_args(a)
        t = torch.arange(start, end, step, dtype=torch.float64 if dt.is_floating_point else torch.int64).to(dt)
    elif kind == "eye":
        n, m = (a.eye, a.eye) if isinstance(a.eye, int) else (a.eye[0], a.eye[-1])
        t = torch.eye(n, m, dtype=dt)
    elif kind == "full":
        t = torch.full(shape, a.full, dtype=dt)
    else:
        t = torch.tensor(a.values, dtype=dt)
    return t.reshape(shape).contiguous()


def _constant_lower(a: ConstantAttrs, ins: Sequence[TensorType], out: TensorType):
    return Call(tensor_value, buffers={"": constant_tensor(a)}, persistent=a.persistent)


register(
    "constant",
    attrs=ConstantAttrs,
    infer=_constant_infer,
    buffers=_constant_buffers,
    lower=_constant_lower,
    cost=no_arithmetic,  # made once, at compile time
    family="param",
    arity=(0, 0),
    doc="A tensor made at compile time from numbers and params expressions: `arange` (position ids, "
    "index tables), `eye`, `full` (a value everywhere) or a literal `values` table, optionally reshaped "
    "by `shape`. It is a buffer owned by the node (state_dict key: the node path), in the state_dict "
    "unless `persistent: false`. It takes no input.",
    shape_doc="no input -> the values' shape (or `shape`); dtype: `dtype`, else int64 for integers, bool "
    "for booleans, float32 otherwise.",
    lowers_to="a node-owned buffer (torch.arange / eye / full / tensor), read by a get_attr node",
    traits=Traits(aliases=True),
    example="{op: constant, arange: [6], shape: [2, 3]}",
)
