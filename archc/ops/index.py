"""op: select, slice: take one index of a dim (removing it) or a strided range of it."""
from __future__ import annotations

from typing import Optional, Sequence

from pydantic import Field

from archc.ir.dims import Dim, ceildiv, dim_str
from archc.ir.types import ShapeError, TensorType
from archc.ops._cost import no_arithmetic
from archc.ops._registry import Attrs, Call, InferContext, Traits, register
from archc.ops.tensor import norm_dim


class SelectAttrs(Attrs):
    dim: int = Field(description="the dim to index (negative counts from the end)")
    index: int = Field(description="the index along it (negative counts from the end)")


def _select_infer(ctx: InferContext, a: SelectAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    dim = norm_dim("select", a.dim, x.rank)
    L = x.shape[dim]
    if isinstance(L, int) and not -L <= a.index < L:
        raise ShapeError("ARC204", f"`select` index={a.index} is out of range for dim {dim} of size {L}",
                         input_index=0)
    if not isinstance(L, int) and ctx is not None:  # a symbolic size: checked at the example sizes (torch checks the others)
        n = ctx.example(L)
        if not -n <= a.index < n:
            raise ShapeError("ARC204", f"`select` index={a.index} is out of range for dim {dim} of size "
                             f"{dim_str(L)} = {n} at the example sizes", input_index=0,
                             hint=f"an index into a dim of symbolic size must be below its smallest size")
    return x.with_shape(x.shape[:dim] + x.shape[dim + 1:])


def _select_lower(a: SelectAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch

    return Call(torch.select, kwargs={"dim": norm_dim("select", a.dim, ins[0].rank), "index": a.index})


register(
    "select",
    attrs=SelectAttrs,
    infer=_select_infer,
    lower=_select_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Take index `index` of dim `dim`, removing the dim (the class token of a ViT or BERT: "
    "`{op: select, dim: 1, index: 0}`).",
    shape_doc="[..., L, ...] -> [..., ...] (dim `dim` removed); a static L must satisfy -L <= index < L.",
    lowers_to="torch.select",
    traits=Traits(aliases=True),
    example="{op: select, dim: 1, index: 0}",
    example_inputs=[(2, 5, 8)],
)


class SliceAttrs(Attrs):
    dim: int = Field(description="the dim to slice (negative counts from the end)")
    start: int = Field(0, description="first index (negative counts from the end)")
    end: Optional[int] = Field(None, description="one past the last index (negative counts from the end); default: the end")
    step: int = Field(1, gt=0)


def _slice_len(a: SliceAttrs, L: Dim) -> Dim:
    if isinstance(L, int):
        return len(range(L)[slice(a.start, a.end, a.step)])
    # symbolic: the bounds must lie inside the dim (no clamping): 0 <= start <= end <= L
    s = a.start if a.start >= 0 else L + a.start
    e = L if a.end is None else (a.end if a.end >= 0 else L + a.end)
    return ceildiv(e - s, a.step)


def _slice_infer(ctx: InferContext, a: SliceAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    dim = norm_dim("slice", a.dim, x.rank)
    n = _slice_len(a, x.shape[dim])
    if isinstance(n, int) and n <= 0:
        raise ShapeError(
            "ARC206",
            f"`slice` [{a.start}:{'' if a.end is None else a.end}:{a.step}] of dim {dim} (size "
            f"{dim_str(x.shape[dim])}) is empty",
            input_index=0,
        )
    return x.with_shape(x.shape[:dim] + (n,) + x.shape[dim + 1:])


def _slice_lower(a: SliceAttrs, ins: Sequence[TensorType], out: TensorType):
    from archc.ops._seqmodules import slice_dim

    return Call(slice_dim, kwargs={"dim": norm_dim("slice", a.dim, ins[0].rank), "start": a.start,
                                   "end": a.end, "step": a.step})


register(
    "slice",
    attrs=SliceAttrs,
    infer=_slice_infer,
    lower=_slice_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Keep indices start, start+step, ... < end of dim `dim` (Python slicing, step > 0).",
    shape_doc="the sliced dim becomes len(range(L)[start:end:step]); for a symbolic L it is "
    "ceil((end' - start') / step) with negative bounds taken from L and end' = L by default, so the "
    "bounds must lie inside the dim (no clamping); an empty result is ARC206.",
    lowers_to="archc.ops._seqmodules.slice_dim (x[..., start:end:step])",
    traits=Traits(aliases=True),
    example="{op: slice, dim: 1, start: 1, end: -1, step: 2}",
    example_inputs=[(2, 7, 4)],
)
