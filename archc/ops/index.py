"""op: select, slice, gather, index_select, take: indexing by constants, ranges and index tensors."""
from __future__ import annotations

from typing import Optional, Sequence

from pydantic import Field

from archc.ir.dims import Dim, ceildiv, dim_str, equal, shape_str
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


# ---------------------------------------------------------------------------------------------
# gather, index_select, take: indexing by a tensor of indices (or a constant list)
# ---------------------------------------------------------------------------------------------

INDEX_DTYPES = ("int64", "int32")


def _require_index(op: str, t: TensorType, index: int = 1, dtypes: Sequence[str] = INDEX_DTYPES) -> None:
    if t.dtype not in dtypes:
        raise ShapeError("ARC202", f"`{op}` needs integer indices ({' or '.join(dtypes)}) as input {index}, "
                         f"but it is {t.dtype}", hint="give the indices an integer dtype (`dtype: int64`)",
                         input_index=index)


def _at_most(ctx: InferContext, a: Dim, b: Dim) -> bool | None:
    """Whether a <= b (at the example sizes when symbolic; None when that cannot be told)."""
    if equal(a, b):
        return True
    try:
        va = a if isinstance(a, int) else ctx.example(a)
        vb = b if isinstance(b, int) else ctx.example(b)
    except Exception:
        return None
    return va <= vb


class GatherAttrs(Attrs):
    dim: int = Field(description="the dim to index along (negative counts from the end)")


def _gather_infer(ctx: InferContext, a: GatherAttrs, ins: Sequence[TensorType]) -> TensorType:
    x, idx = ins
    _require_index("gather", idx, dtypes=("int64",))
    if idx.rank != x.rank:
        raise ShapeError("ARC205", f"`gather` needs an index of the input's rank {x.rank}, but input 1 has shape "
                         f"{idx.shape_str()}", hint="torch.gather indexes every dim: add the missing dims "
                         "(`unsqueeze`, `expand`)", input_index=1)
    dim = norm_dim("gather", a.dim, x.rank)
    for k in range(x.rank):
        if k != dim and _at_most(ctx, idx.shape[k], x.shape[k]) is False:
            raise ShapeError("ARC201", f"`gather` index dim {k} ({dim_str(idx.shape[k])}) is larger than the "
                             f"input's ({dim_str(x.shape[k])})", hint="every dim of the index but `dim` must be "
                             "at most the input's", input_index=1)
    return TensorType(idx.shape, x.dtype)


def _gather_lower(a: GatherAttrs, ins, out):
    from archc.ops._tensorfns import gather

    return Call(gather, kwargs={"dim": norm_dim("gather", a.dim, ins[0].rank)})


register(
    "gather",
    attrs=GatherAttrs,
    infer=_gather_infer,
    lower=_gather_lower,
    cost=no_arithmetic,
    family="tensor",
    arity=(2, 2),
    doc="out[i][j][k] = x[i][index[i][j][k]][k] for dim 1 (torch.gather): the second input holds int64 "
    "indices into dim `dim` of the first.",
    shape_doc="[x, index] with index of x's rank -> index's shape, x's dtype; every dim of index but `dim` must be "
    "at most x's; indices must be int64 (ARC202).",
    lowers_to="archc.ops._tensorfns.gather (torch.gather)",
    example="{op: gather, dim: 1}",
    example_inputs=[(2, 5, 3), (2, 4, 3)],
    example_dtypes=["float32", "int64"],
    example_ranges=[None, (0, 5)],
)


class IndexSelectAttrs(Attrs):
    dim: int = Field(description="the dim to pick from (negative counts from the end)")
    index: Optional[list[int]] = Field(None, description="constant indices (negative count from the end); "
                                       "leave out to give them as a second input, a 1-d integer tensor")


def _index_select_infer(ctx: InferContext, a: IndexSelectAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    dim = norm_dim("index_select", a.dim, x.rank)
    if len(ins) == 2:
        if a.index is not None:
            raise ShapeError("ARC204", "`index_select` has both `index:` and a second input",
                             hint="give the indices one way: a constant list `index:` or a tensor input", input_index=1)
        idx = ins[1]
        _require_index("index_select", idx)
        if idx.rank != 1:
            raise ShapeError("ARC205", f"`index_select` needs 1-d indices, but input 1 has shape {idx.shape_str()}",
                             hint="flatten the indices first", input_index=1)
        n: Dim = idx.shape[0]
    else:
        if a.index is None:
            raise ShapeError("ARC204", "`index_select` needs the indices: a constant list `index:` or a second "
                             "input", hint="add `index: [0, 2]`, or `from: [x, indices]`")
        if not a.index:
            raise ShapeError("ARC206", "`index_select` index list is empty", hint="name at least one index")
        L = x.shape[dim]
        size = L if isinstance(L, int) else ctx.example(L) if ctx is not None else None
        bad = [i for i in a.index if size is not None and not -size <= i < size]
        if bad:
            at = "" if isinstance(L, int) else f" = {size} at the example sizes"
            raise ShapeError("ARC204", f"`index_select` index {bad[0]} is out of range for dim {dim} of size "
                             f"{dim_str(L)}{at}", input_index=0,
                             hint=None if isinstance(L, int) else "an index into a dim of symbolic size must be "
                             "below its smallest size")
        n = len(a.index)
    return x.with_shape(x.shape[:dim] + (n,) + x.shape[dim + 1:])


def _index_select_lower(a: IndexSelectAttrs, ins, out):
    dim = norm_dim("index_select", a.dim, ins[0].rank)
    from archc.ops._tensorfns import index_select, index_select_list

    if a.index is None:
        return Call(index_select, kwargs={"dim": dim})

    return Call(index_select_list, kwargs={"dim": dim, "index": list(a.index)})


register(
    "index_select",
    attrs=IndexSelectAttrs,
    infer=_index_select_infer,
    lower=_index_select_lower,
    cost=no_arithmetic,
    family="tensor",
    arity=(1, 2),
    doc="Pick the entries `index` of dim `dim` (torch.index_select), by a constant list `index:` or by a "
    "1-d integer tensor as the second input.",
    shape_doc="dim `dim` becomes len(index) (or the index input's length); constant indices must be in range "
    "(a symbolic dim: at the example sizes).",
    lowers_to="archc.ops._tensorfns.index_select (torch.index_select; index_select_list for a constant index)",
    example="{op: index_select, dim: 1, index: [0, 2, -1]}",
    example_inputs=[(2, 5, 4)],
)


class TakeAttrs(Attrs):
    dim: int = Field(1, description="the dim to pick one position of, per row of the dims before it")


def _take_infer(ctx: InferContext, a: TakeAttrs, ins: Sequence[TensorType]) -> TensorType:
    x, idx = ins
    _require_index("take", idx)
    dim = norm_dim("take", a.dim, x.rank)
    if idx.rank != dim:
        raise ShapeError("ARC205", f"`take` along dim {dim} needs one index per row: an index of shape "
                         f"{shape_str(x.shape[:dim])}, but input 1 has shape {idx.shape_str()}",
                         hint="the index has the input's dims before `dim` (`[B]` for dim 1)", input_index=1)
    for k in range(dim):
        if not equal(idx.shape[k], x.shape[k]):
            ctx.require_equal(idx.shape[k], x.shape[k], f"`take` index dim {k} and input dim {k}", inputs=(1, 0))
    return x.with_shape(x.shape[:dim] + x.shape[dim + 1:])


def _take_lower(a: TakeAttrs, ins, out):
    from archc.ops._tensorfns import take_along

    return Call(take_along, kwargs={"dim": norm_dim("take", a.dim, ins[0].rank)})


register(
    "take",
    attrs=TakeAttrs,
    infer=_take_infer,
    lower=_take_lower,
    cost=no_arithmetic,
    family="tensor",
    arity=(2, 2),
    doc="One position of dim `dim` per row: `x[arange(B), index]` for dim 1, e.g. CLIP's pooled end-of-text "
    "token from hidden states [B, T, D] and `argmax` of the ids [B] (not torch.take's flat indexing).",
    shape_doc="[x, index] with index of shape x.shape[:dim] (integer, values in [0, size of dim)) -> x with dim "
    "`dim` removed: [B, T, D], [B] -> [B, D].",
    lowers_to="archc.ops._tensorfns.take_along (torch.gather on the expanded index)",
    example="{op: take, dim: 1}",
    example_inputs=[(2, 5, 4), (2,)],
    example_dtypes=["float32", "int64"],
    example_ranges=[None, (0, 5)],
)
