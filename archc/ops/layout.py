"""op: stack, expand, repeat_interleave, squeeze, unsqueeze, pad, roll, flip, pixel_shuffle,
pixel_unshuffle, normalize: layout ops that move, copy or pad elements (and L2 normalisation)."""
from __future__ import annotations

from typing import ClassVar, Literal, Sequence, Union

from pydantic import Field

from archc.ir.dims import Dim, dim_str, equal, floordiv
from archc.ir.types import ShapeError, TensorType
from archc.ops._cost import Cost, no_arithmetic, numel
from archc.ops._registry import Attrs, Call, InferContext, Traits, rank_error, register
from archc.ops.tensor import SizeEntry, _ints, norm_dim, reduce_dims, require_float, same_dtype


def _value(ctx: InferContext | None, d: Dim) -> int | None:
    """A dim's size: itself when fixed, else its value at the example sizes (None without a context)."""
    if isinstance(d, int):
        return d
    return ctx.example(d) if ctx is not None else None


# ---------------------------------------------------------------------------------------------
# stack
# ---------------------------------------------------------------------------------------------


class StackAttrs(Attrs):
    dim: int = Field(0, description="the new dim's position in the output (negative counts from the end)")


def _stack_dim(d: int, rank: int) -> int:
    return norm_dim("stack", d, rank + 1)


def _stack_infer(ctx: InferContext, a: StackAttrs, ins: Sequence[TensorType]) -> TensorType:
    dtype = same_dtype("stack", ins)
    x0 = ins[0]
    for i, t in enumerate(ins[1:], 1):
        if t.rank != x0.rank:
            e = rank_error("stack", f"inputs of the same shape as input 0 ({x0.shape_str()})", t, i)
            e.input_index = i
            raise e
        for k in range(x0.rank):
            if not equal(x0.shape[k], t.shape[k]):
                ctx.require_equal(x0.shape[k], t.shape[k], f"`stack` dim {k} of inputs 0 and {i}", inputs=(0, i))
    dim = _stack_dim(a.dim, x0.rank)
    return TensorType(x0.shape[:dim] + (len(ins),) + x0.shape[dim:], dtype)


def _stack_lower(a: StackAttrs, ins, out):
    import torch

    return Call(torch.stack, kwargs={"dim": _stack_dim(a.dim, ins[0].rank)}, pack_inputs=True)


register(
    "stack",
    attrs=StackAttrs,
    infer=_stack_infer,
    lower=_stack_lower,
    cost=no_arithmetic,
    family="tensor",
    arity=(2, None),
    doc="Stack two or more tensors of the same shape along a new dim `dim`.",
    shape_doc="n inputs of shape [...] -> a new dim of size n at `dim` (valid: -(rank+1)..rank); the inputs' "
    "shapes and dtypes must be equal.",
    lowers_to="torch.stack",
    example="{op: stack, dim: 1}",
    example_inputs=[(2, 3, 4), (2, 3, 4), (2, 3, 4)],
)

# ---------------------------------------------------------------------------------------------
# expand, repeat_interleave
# ---------------------------------------------------------------------------------------------


class ExpandAttrs(Attrs):
    symbolic_sizes: ClassVar[tuple[str, ...]] = ("sizes",)
    sizes: list[SizeEntry] = Field(description="the output's sizes; -1 keeps the input's dim; a size may be another "
                                   "node's symbolic dim (`${dim(x, 0)}`), read at run time")


def _expand_infer(ctx: InferContext, a: ExpandAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    sizes = list(a.sizes)
    text = "[" + ", ".join(dim_str(s) for s in sizes) + "]"
    new = len(sizes) - x.rank
    if new < 0:
        raise ShapeError("ARC205", f"`expand` sizes {text} name {len(sizes)} dims, fewer than the input's rank "
                         f"{x.rank} ({x.shape_str()})", hint="give one size per input dim (-1 keeps it)", input_index=0)
    out: list[Dim] = []
    for i, s in enumerate(sizes):
        if isinstance(s, int) and (s == 0 or s < -1):
            raise ShapeError("ARC204", f"`expand` sizes {text} has the invalid entry {s}",
                             hint="sizes are positive, or -1 to keep the input's dim")
        if i < new:
            if isinstance(s, int) and s == -1:
                raise ShapeError("ARC204", f"`expand` sizes {text}: -1 at position {i} is a new leading dim, "
                                 "which has no input dim to keep", hint="give the new dim's size")
            out.append(s)
            continue
        d = x.shape[i - new]
        if isinstance(s, int) and s == -1:
            out.append(d)
        elif isinstance(d, int) and d == 1:
            out.append(s)
        elif equal(d, s):
            out.append(d)
        elif isinstance(d, int) and isinstance(s, int):
            raise ShapeError("ARC201", f"`expand` cannot expand dim {i - new} of size {d} to {s}",
                             hint="only size-1 dims expand; -1 keeps a dim", input_index=0)
        else:
            ctx.require_equal(d, s, f"`expand` dim {i - new} of the input ({dim_str(d)}) and size {dim_str(s)} "
                              "(only size-1 dims expand)")
            out.append(d)
    return x.with_shape(out)


def _expand_lower(a: ExpandAttrs, ins, out):
    from archc.ops._tensorfns import expand_to

    return Call(expand_to, kwargs={"sizes": tuple(a.sizes)})


register(
    "expand",
    attrs=ExpandAttrs,
    infer=_expand_infer,
    lower=_expand_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Broadcast size-1 dims to `sizes` without copying (torch.Tensor.expand), e.g. a class token [1, 1, D] "
    "to the batch: `sizes: ['${dim(x, 0)}', -1, -1]`.",
    shape_doc="a size-1 dim takes its size, -1 keeps the dim, any other dim must equal its size; extra sizes in "
    "front add leading dims (not -1).",
    lowers_to="archc.ops._tensorfns.expand_to (torch.Tensor.expand)",
    traits=Traits(aliases=True),
    example="{op: expand, sizes: [2, -1, 3, 4]}",
    example_inputs=[(5, 1, 4)],
)


class RepeatInterleaveAttrs(Attrs):
    repeats: int = Field(gt=0, description="how often each entry is repeated")
    dim: int = Field(description="the dim to repeat along (negative counts from the end)")


def _repeat_interleave_infer(ctx: InferContext, a: RepeatInterleaveAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    dim = norm_dim("repeat_interleave", a.dim, x.rank)
    return x.with_shape(x.shape[:dim] + (x.shape[dim] * a.repeats,) + x.shape[dim + 1:])


def _repeat_interleave_lower(a: RepeatInterleaveAttrs, ins, out):
    import torch

    return Call(torch.repeat_interleave, kwargs={"repeats": a.repeats,
                                                 "dim": norm_dim("repeat_interleave", a.dim, ins[0].rank)})


register(
    "repeat_interleave",
    attrs=RepeatInterleaveAttrs,
    infer=_repeat_interleave_infer,
    lower=_repeat_interleave_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Repeat each entry of dim `dim` `repeats` times in place (grouped-query attention's shared key/value "
    "heads: `repeats: 4, dim: 1`).",
    shape_doc="dim `dim` of size L becomes L * repeats; entries stay in order (a a b b, not a b a b).",
    lowers_to="torch.repeat_interleave",
    example="{op: repeat_interleave, repeats: 3, dim: 1}",
    example_inputs=[(2, 4, 5)],
)

# ---------------------------------------------------------------------------------------------
# squeeze, unsqueeze
# ---------------------------------------------------------------------------------------------


class SqueezeAttrs(Attrs):
    dims: Union[int, list[int]] = Field(description="the size-1 dim or dims to remove (negative counts from the end)")


def _squeeze_dims(a: SqueezeAttrs, rank: int) -> list[int]:
    return sorted(reduce_dims("squeeze", a.dims, rank))


def _squeeze_infer(ctx: InferContext, a: SqueezeAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    dims = _squeeze_dims(a, x.rank)
    for d in dims:
        L = x.shape[d]
        if not (isinstance(L, int) and L == 1):
            raise ShapeError("ARC204", f"`squeeze` dim {d} has size {dim_str(L)}, not 1, in {x.shape_str()}",
                             hint="only size-1 dims can be squeezed"
                             + ("" if isinstance(L, int) else " (a symbolic dim is not always 1)"), input_index=0)
    return x.with_shape([s for i, s in enumerate(x.shape) if i not in dims])


def _squeeze_lower(a: SqueezeAttrs, ins, out):
    import torch

    return Call(torch.squeeze, kwargs={"dim": tuple(_squeeze_dims(a, ins[0].rank))})


register(
    "squeeze",
    attrs=SqueezeAttrs,
    infer=_squeeze_infer,
    lower=_squeeze_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Remove size-1 dims (`dims: [2, 3]` after a global pool to [B, C]).",
    shape_doc="each named dim must have the fixed size 1 (ARC204 otherwise, a symbolic dim included) and is "
    "removed.",
    lowers_to="torch.squeeze",
    traits=Traits(role="view", aliases=True),
    example="{op: squeeze, dims: [1, -1]}",
    example_inputs=[(2, 1, 1)],
)


class UnsqueezeAttrs(Attrs):
    dim: int = Field(description="the new size-1 dim's position in the output (negative counts from the end)")


def _unsqueeze_infer(ctx: InferContext, a: UnsqueezeAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    dim = norm_dim("unsqueeze", a.dim, x.rank + 1)
    return x.with_shape(x.shape[:dim] + (1,) + x.shape[dim:])


def _unsqueeze_lower(a: UnsqueezeAttrs, ins, out):
    import torch

    return Call(torch.unsqueeze, kwargs={"dim": norm_dim("unsqueeze", a.dim, ins[0].rank + 1)})


register(
    "unsqueeze",
    attrs=UnsqueezeAttrs,
    infer=_unsqueeze_infer,
    lower=_unsqueeze_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Insert a size-1 dim at `dim` (an attention mask [B, T] to [B, 1, T] for broadcasting).",
    shape_doc="[...] -> a size-1 dim at `dim` (valid: -(rank+1)..rank, -1 appends).",
    lowers_to="torch.unsqueeze",
    traits=Traits(role="view", aliases=True),
    example="{op: unsqueeze, dim: -1}",
    example_inputs=[(2, 3)],
)

# ---------------------------------------------------------------------------------------------
# pad
# ---------------------------------------------------------------------------------------------


class PadAttrs(Attrs):
    pads: list[int] = Field(description="as torch.nn.functional.pad: (left, right) of the last dim, then of the one "
                            "before, ...; negative crops (mode constant only)")
    mode: Literal["constant", "reflect", "replicate", "circular"] = "constant"
    value: float = Field(0.0, description="the fill value (mode constant only)")


def _pad_infer(ctx: InferContext, a: PadAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    pads = list(a.pads)
    if not pads or len(pads) % 2:
        raise ShapeError("ARC204", f"`pad` pads {pads} must list pairs (left, right) per dim, an even number > 0",
                         hint="as torch.nn.functional.pad: [left, right] pads the last dim, [left, right, top, "
                         "bottom] the last two")
    n = len(pads) // 2
    if n > x.rank:
        raise ShapeError("ARC205", f"`pad` pads {pads} pad {n} dims, but the input {x.shape_str()} has rank {x.rank}",
                         hint="give one (left, right) pair per padded dim, the last dim first", input_index=0)
    if a.mode != "constant":
        if a.value != 0.0:
            raise ShapeError("ARC204", f"`pad` value={a.value} applies to mode constant only, not {a.mode}",
                             hint="leave `value` out")
        if any(p < 0 for p in pads):
            raise ShapeError("ARC204", f"`pad` pads {pads} are negative, which crops: mode constant only, not "
                             f"{a.mode}", hint="crop with `slice` first")
        if n > 3 or not n + 1 <= x.rank <= n + 2:
            raise ShapeError("ARC205", f"`pad` mode {a.mode} pads the last 1 to 3 dims of a tensor with 1 or 2 dims "
                             f"before them: {n} padded dim(s) need rank {n + 1} or {n + 2}, but the input "
                             f"{x.shape_str()} has rank {x.rank}", hint="add or merge leading dims (`unsqueeze`, "
                             "`flatten`), or pad in mode constant", input_index=0)
    shape = list(x.shape)
    for k in range(n):
        dim = x.rank - 1 - k
        lo, hi = pads[2 * k], pads[2 * k + 1]
        L = shape[dim]
        if a.mode in ("reflect", "circular"):
            size = _value(ctx, L)
            limit = "less than" if a.mode == "reflect" else "at most"
            if size is not None and max(lo, hi) > (size - 1 if a.mode == "reflect" else size):
                at = "" if isinstance(L, int) else f" = {size} at the example sizes"
                raise ShapeError("ARC204", f"`pad` {a.mode} pads ({lo}, {hi}) of dim {dim} must be {limit} its size "
                                 f"{dim_str(L)}{at}", hint="pad less, or use mode replicate or constant",
                                 input_index=0)
        shape[dim] = L + lo + hi
    return x.with_shape(shape)


def _pad_lower(a: PadAttrs, ins, out):
    import torch.nn.functional as F

    kwargs: dict = {"pad": list(a.pads), "mode": a.mode}
    if a.mode == "constant":
        kwargs["value"] = a.value
    return Call(F.pad, kwargs=kwargs)


register(
    "pad",
    attrs=PadAttrs,
    infer=_pad_infer,
    lower=_pad_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Pad (or, with negative pads, crop) the last dims as torch.nn.functional.pad: asymmetric pads, "
    "mode constant (with `value`), reflect, replicate or circular.",
    shape_doc="dim -1 grows by pads[0] + pads[1], dim -2 by pads[2] + pads[3], ...; reflect pads must be less "
    "than the dim's size and circular ones at most it (a symbolic dim: at the example sizes); modes other "
    "than constant pad 1 to 3 dims of a rank n+1 or n+2 input.",
    lowers_to="torch.nn.functional.pad",
    example="{op: pad, pads: [1, 2, 0, 1], mode: reflect}",
    example_inputs=[(2, 3, 4, 5)],
)

# ---------------------------------------------------------------------------------------------
# roll, flip
# ---------------------------------------------------------------------------------------------


class RollAttrs(Attrs):
    shifts: Union[int, list[int]] = Field(description="how far to shift each dim (negative: backwards)")
    dims: Union[int, list[int]] = Field(description="the dims to roll, one per shift (negative counts from the end)")


def _roll_dims(a: RollAttrs, rank: int) -> list[int]:
    shifts, dims = _ints(a.shifts), _ints(a.dims)
    if len(shifts) != len(dims) or not dims:
        raise ShapeError("ARC204", f"`roll` needs one shift per dim: shifts {a.shifts}, dims {a.dims}",
                         hint="list as many shifts as dims, at least one")
    return [norm_dim("roll", d, rank, "dims") for d in dims]


def _roll_infer(ctx: InferContext, a: RollAttrs, ins: Sequence[TensorType]) -> TensorType:
    _roll_dims(a, ins[0].rank)
    return ins[0]


def _roll_lower(a: RollAttrs, ins, out):
    import torch

    return Call(torch.roll, kwargs={"shifts": tuple(_ints(a.shifts)), "dims": tuple(_roll_dims(a, ins[0].rank))})


register(
    "roll",
    attrs=RollAttrs,
    infer=_roll_infer,
    lower=_roll_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Shift entries cyclically along dims (Swin's shifted windows: `shifts: [-3, -3], dims: [1, 2]`).",
    shape_doc="the shape is kept; shifts and dims pair up.",
    lowers_to="torch.roll",
    example="{op: roll, shifts: [1, -2], dims: [1, 2]}",
    example_inputs=[(2, 4, 5)],
)


class FlipAttrs(Attrs):
    dims: Union[int, list[int]] = Field(description="the dims to reverse (negative counts from the end)")


def _flip_dims(a: FlipAttrs, rank: int) -> list[int]:
    return reduce_dims("flip", a.dims, rank)


def _flip_infer(ctx: InferContext, a: FlipAttrs, ins: Sequence[TensorType]) -> TensorType:
    _flip_dims(a, ins[0].rank)
    return ins[0]


def _flip_lower(a: FlipAttrs, ins, out):
    import torch

    return Call(torch.flip, kwargs={"dims": tuple(_flip_dims(a, ins[0].rank))})


register(
    "flip",
    attrs=FlipAttrs,
    infer=_flip_infer,
    lower=_flip_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Reverse the order of entries along dims.",
    shape_doc="the shape is kept.",
    lowers_to="torch.flip",
    example="{op: flip, dims: -1}",
    example_inputs=[(2, 3, 4)],
)

# ---------------------------------------------------------------------------------------------
# normalize
# ---------------------------------------------------------------------------------------------


class NormalizeAttrs(Attrs):
    p: float = Field(2.0, gt=0, description="the norm's exponent (2: L2)")
    dim: int = Field(1, description="the dim whose vectors are normalised (negative counts from the end)")
    eps: float = Field(1e-12, ge=0, description="the smallest norm divided by (avoids dividing by zero)")


def _normalize_infer(ctx: InferContext, a: NormalizeAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    require_float("normalize", x)
    norm_dim("normalize", a.dim, x.rank)
    return x


def _normalize_cost(node, ins, env) -> Cost:
    """3 FLOPs per element: the power (a square for p = 2), the sum, the divide."""
    return Cost(0, 3 * numel(ins[0], env))


def _normalize_lower(a: NormalizeAttrs, ins, out):
    import torch.nn.functional as F

    return Call(F.normalize, kwargs={"p": a.p, "dim": norm_dim("normalize", a.dim, ins[0].rank), "eps": a.eps})


register(
    "normalize",
    attrs=NormalizeAttrs,
    infer=_normalize_infer,
    lower=_normalize_lower,
    cost=_normalize_cost,
    family="tensor",
    doc="Divide the vectors along `dim` by their p-norm (L2 by default), as torch.nn.functional.normalize: "
    "x / max(||x||_p, eps) (CLIP's embeddings: `dim: -1`).",
    shape_doc="the shape is kept; the input must be floating-point (ARC202).",
    lowers_to="torch.nn.functional.normalize",
    example="{op: normalize, dim: -1}",
    example_inputs=[(2, 3, 8)],
)

# ---------------------------------------------------------------------------------------------
# pixel_shuffle, pixel_unshuffle
# ---------------------------------------------------------------------------------------------


class PixelShuffleAttrs(Attrs):
    factor: int = Field(gt=0, description="the upscale (pixel_shuffle) or downscale (pixel_unshuffle) factor r")


def _divided(ctx: InferContext, op: str, d: Dim, by: int, what: str, hint: str) -> Dim:
    """`d / by` exactly: ARC204 when a fixed `d` is not a multiple; for a symbolic one the
    divisibility is a recorded constraint on its symbols (checked at the example sizes)."""
    if isinstance(d, int):
        if d % by:
            raise ShapeError("ARC204", f"`{op}` {what} {d} is not a multiple of {by}", hint=hint, input_index=0)
        return d // by
    q = floordiv(d, by)
    if not equal(q * by, d):
        ctx.require_equal(q * by, d, f"`{op}` {what} `{dim_str(d)}` divisible by {by}")
    return q


def _pixel_infer(unshuffle: bool):
    op = "pixel_unshuffle" if unshuffle else "pixel_shuffle"

    def infer(ctx: InferContext, a: PixelShuffleAttrs, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        if x.rank < 3:
            raise rank_error(op, "[..., C, H, W] (rank >= 3)", x)
        *lead, C, H, W = x.shape
        r = a.factor
        if unshuffle:
            hint = f"the spatial size must be a multiple of factor={r}: pad or resize first"
            h = _divided(ctx, op, H, r, "height (dim -2)", hint)
            w = _divided(ctx, op, W, r, "width (dim -1)", hint)
            return x.with_shape([*lead, C * (r * r), h, w])
        c = _divided(ctx, op, C, r * r, "channels (dim -3)", f"the channels must be a multiple of factor^2 = {r * r}")
        return x.with_shape([*lead, c, H * r, W * r])

    return infer


def _pixel_lower(unshuffle: bool):
    def lower(a: PixelShuffleAttrs, ins, out):
        import torch.nn.functional as F

        if unshuffle:
            return Call(F.pixel_unshuffle, kwargs={"downscale_factor": a.factor})
        return Call(F.pixel_shuffle, kwargs={"upscale_factor": a.factor})

    return lower


register(
    "pixel_shuffle",
    attrs=PixelShuffleAttrs,
    infer=_pixel_infer(False),
    lower=_pixel_lower(False),
    cost=no_arithmetic,
    family="resize",
    doc="Rearrange channels into space (sub-pixel upsampling, ESPCN): [B, C*r*r, H, W] -> [B, C, H*r, W*r].",
    shape_doc="[..., C, H, W] -> [..., C/r^2, H*r, W*r]; C must be a multiple of r^2 (ARC204; a symbolic C "
    "records the divisibility as a constraint).",
    lowers_to="torch.nn.functional.pixel_shuffle",
    example="{op: pixel_shuffle, factor: 2}",
    example_inputs=[(2, 12, 3, 4)],
)
register(
    "pixel_unshuffle",
    attrs=PixelShuffleAttrs,
    infer=_pixel_infer(True),
    lower=_pixel_lower(True),
    cost=no_arithmetic,
    family="resize",
    doc="Rearrange space into channels (the inverse of pixel_shuffle): [B, C, H*r, W*r] -> [B, C*r*r, H, W].",
    shape_doc="[..., C, H, W] -> [..., C*r^2, H/r, W/r]; H and W must be multiples of r (ARC204; symbolic "
    "ones record `H % r == 0` as a constraint).",
    lowers_to="torch.nn.functional.pixel_unshuffle",
    example="{op: pixel_unshuffle, factor: 2}",
    example_inputs=[(2, 3, 4, 6)],
)
