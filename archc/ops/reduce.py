"""op: sum, prod, max, min, argmax, argmin, cumsum: reductions over dims (`mean` is in tensor.py
and takes the same `dims` and `keepdim`)."""
from __future__ import annotations

from typing import Sequence, Union

from pydantic import Field

from archc.ir.types import FLOAT_DTYPES, ShapeError, TensorType
from archc.ops._cost import Cost, numel
from archc.ops._registry import Attrs, Call, InferContext, Traits, register
from archc.ops.tensor import norm_dim, reduce_dims, reduced_shape

INT_RESULT = "int64"  # torch sums, products and cumulative sums of integers and bools in int64


class ReduceAttrs(Attrs):
    dims: Union[int, list[int]] = Field(description="the dim or dims to reduce (negative counts from the end)")
    keepdim: bool = Field(False, description="keep each reduced dim as size 1")


class ArgReduceAttrs(Attrs):
    dim: int = Field(description="the dim to reduce (negative counts from the end)")
    keepdim: bool = Field(False, description="keep the reduced dim as size 1")


class CumsumAttrs(Attrs):
    dim: int = Field(description="the dim to accumulate along (negative counts from the end)")


def _accumulated_dtype(dtype: str) -> str:
    return dtype if dtype in FLOAT_DTYPES else INT_RESULT


def _per_input_element(node, ins, env) -> Cost:
    """1 FLOP per input element (an add, multiply or comparison)."""
    return Cost(0, numel(ins[0], env))


def _reduce_infer(name: str, dtype_rule):
    def infer(ctx: InferContext, a: ReduceAttrs, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        return TensorType(tuple(reduced_shape(name, a.dims, a.keepdim, x)), dtype_rule(x.dtype))

    return infer


def _lower_sum(a: ReduceAttrs, ins, out):
    import torch

    return Call(torch.sum, kwargs={"dim": tuple(reduce_dims("sum", a.dims, ins[0].rank)), "keepdim": a.keepdim})


def _lower_prod(a: ReduceAttrs, ins, out):
    from archc.ops._tensorfns import prod_dims

    dims = sorted(reduce_dims("prod", a.dims, ins[0].rank), reverse=True)
    return Call(prod_dims, kwargs={"dims": dims, "keepdim": a.keepdim})


def _lower_amax(a: ReduceAttrs, ins, out):
    import torch

    return Call(torch.amax, kwargs={"dim": tuple(reduce_dims("max", a.dims, ins[0].rank)), "keepdim": a.keepdim})


def _lower_amin(a: ReduceAttrs, ins, out):
    import torch

    return Call(torch.amin, kwargs={"dim": tuple(reduce_dims("min", a.dims, ins[0].rank)), "keepdim": a.keepdim})


_DIMS_DOC = "the reduced dims are removed (kept as 1 with keepdim); `dims` is one dim or a list, negative dims count " \
    "from the end, a dim named twice is ARC204."
register(
    "sum",
    attrs=ReduceAttrs,
    infer=_reduce_infer("sum", _accumulated_dtype),
    lower=_lower_sum,
    cost=_per_input_element,
    family="tensor",
    doc="Sum over one or more dims.",
    shape_doc=_DIMS_DOC + " Integer and bool inputs sum to int64 (as torch does).",
    lowers_to="torch.sum",
    example="{op: sum, dims: [1, -1]}",
    example_inputs=[(2, 3, 4, 5)],
)
register(
    "prod",
    attrs=ReduceAttrs,
    infer=_reduce_infer("prod", _accumulated_dtype),
    lower=_lower_prod,
    cost=_per_input_element,
    family="tensor",
    doc="Product over one or more dims.",
    shape_doc=_DIMS_DOC + " Integer and bool inputs multiply to int64 (as torch does).",
    lowers_to="archc.ops._tensorfns.prod_dims (torch.prod over each dim)",
    example="{op: prod, dims: 2, keepdim: true}",
    example_inputs=[(2, 3, 4)],
)
register(
    "max",
    attrs=ReduceAttrs,
    infer=_reduce_infer("max", lambda dt: dt),
    lower=_lower_amax,
    cost=_per_input_element,
    family="tensor",
    doc="Largest value over one or more dims (the values only; `argmax` gives the positions).",
    shape_doc=_DIMS_DOC + " The dtype is kept.",
    lowers_to="torch.amax",
    example="{op: max, dims: [2, 3]}",
    example_inputs=[(2, 3, 4, 5)],
)
register(
    "min",
    attrs=ReduceAttrs,
    infer=_reduce_infer("min", lambda dt: dt),
    lower=_lower_amin,
    cost=_per_input_element,
    family="tensor",
    doc="Smallest value over one or more dims (the values only; `argmin` gives the positions).",
    shape_doc=_DIMS_DOC + " The dtype is kept.",
    lowers_to="torch.amin",
    example="{op: min, dims: -1, keepdim: true}",
    example_inputs=[(2, 3, 4)],
)


def _arg_infer(name: str):
    def infer(ctx: InferContext, a: ArgReduceAttrs, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        if x.dtype == "bool":
            raise ShapeError("ARC202", f"`{name}` does not take a bool input (input 0 is bool)",
                             hint="cast it to an integer or float dtype first", input_index=0)
        return TensorType(tuple(reduced_shape(name, a.dim, a.keepdim, x)), "int64")

    return infer


def _arg_lower(fn_name: str):
    def lower(a: ArgReduceAttrs, ins, out):
        import torch

        return Call(getattr(torch, fn_name), kwargs={"dim": norm_dim(fn_name, a.dim, ins[0].rank), "keepdim": a.keepdim})

    return lower


for _name, _what in (("argmax", "largest"), ("argmin", "smallest")):
    register(
        _name,
        attrs=ArgReduceAttrs,
        infer=_arg_infer(_name),
        lower=_arg_lower(_name),
        cost=_per_input_element,
        family="tensor",
        doc=f"The position of the {_what} value along `dim`, as int64 (the first one on ties), e.g. the "
        f"end-of-text token of each sequence.",
        shape_doc="dim `dim` is removed (kept as 1 with keepdim); the result is int64; a bool input is ARC202.",
        lowers_to=f"torch.{_name}",
        example=f"{{op: {_name}, dim: -1}}",
        example_inputs=[(2, 3, 7)],
    )


def _cumsum_infer(ctx: InferContext, a: CumsumAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    norm_dim("cumsum", a.dim, x.rank)
    return TensorType(x.shape, _accumulated_dtype(x.dtype))


def _cumsum_lower(a: CumsumAttrs, ins, out):
    import torch

    return Call(torch.cumsum, kwargs={"dim": norm_dim("cumsum", a.dim, ins[0].rank)})


register(
    "cumsum",
    attrs=CumsumAttrs,
    infer=_cumsum_infer,
    lower=_cumsum_lower,
    cost=_per_input_element,
    family="tensor",
    doc="Running sum along `dim` (position ids from a padding mask: `cumsum` of the mask).",
    shape_doc="the shape is kept; integer and bool inputs accumulate in int64 (as torch does).",
    lowers_to="torch.cumsum",
    # a running sum depends on each element's place in the sequence: position ids (RoBERTa's, from
    # the padding mask) are made this way, so what it feeds carries positions (lint's ARC309)
    traits=Traits(positional=True),
    example="{op: cumsum, dim: 1}",
    example_inputs=[(2, 6)],
    example_dtypes=["int64"],
    example_ranges=[(0, 2)],
)
