"""op: elementwise and structural tensor ops: add, mul, concat, split, reshape, permute, transpose,
flatten, unflatten, matmul, mean, identity.

Also the small shape helpers the other op modules share (`norm_dim`, `require_float`, `prod`,
`broadcast`).
"""
from __future__ import annotations

from collections import Counter
from typing import Annotated, ClassVar, Sequence, Union

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from archc.ir.dims import Dim, Sym, SymExpr, dim_str, equal, floordiv, sym
from archc.ir.types import FLOAT_DTYPES, ScalarType, ShapeError, TensorType
from archc.ops._cost import Cost, no_arithmetic, numel, size
from archc.ops._registry import Attrs, Call, InferContext, NoAttrs, Traits, rank_error, register

# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def norm_dim(op: str, d: int, rank: int, what: str = "dim") -> int:
    """`d` normalised to [0, rank); negative dims count from the end. ARC204 when out of range."""
    if not -rank <= d < rank:
        valid = f"{-rank}..{rank - 1}" if rank else "none"
        raise ShapeError(
            "ARC204",
            f"`{op}` {what}={d} is out of range for a rank-{rank} input (valid: {valid})",
            input_index=0,
        )
    return d % rank


def require_float(op: str, x: TensorType, index: int = 0) -> None:
    if x.dtype not in FLOAT_DTYPES:
        raise ShapeError(
            "ARC202",
            f"`{op}` needs a floating-point input, but input {index} is {x.dtype}",
            hint="cast the tensor to a float dtype first",
            input_index=index,
        )


def same_dtype(op: str, ins: Sequence[TensorType]) -> str:
    for i, t in enumerate(ins[1:], 1):
        if t.dtype != ins[0].dtype:
            raise ShapeError(
                "ARC202",
                f"`{op}` inputs must share a dtype: input 0 is {ins[0].dtype}, input {i} is {t.dtype}",
                input_index=i,
            )
    return ins[0].dtype


def prod(dims: Sequence[Dim]) -> Dim:
    out: Dim = 1
    for d in dims:
        out = out * d
    return out


def static_dim(op: str, d: Dim, what: str, index: int = 0) -> int:
    """`d` as an int, or ARC204 saying the op needs it static."""
    if not isinstance(d, int):
        raise ShapeError(
            "ARC204",
            f"`{op}` needs a fixed {what}, got `{dim_str(d)}`",
            hint="this size must be a number, not a symbol",
            input_index=index,
        )
    return d


def broadcast(
    ctx: InferContext, op: str, shapes: Sequence[Sequence[Dim]], indices: Sequence[int] | None = None
) -> tuple[Dim, ...]:
    """numpy broadcasting: right-aligned; each dim equal across inputs or the constant 1.

    Two dims that are not the constant 1 (symbols included) are required equal through `ctx`.
    """
    indices = list(indices) if indices is not None else list(range(len(shapes)))
    rank = max(len(s) for s in shapes)
    out: list[Dim] = []
    for k in range(rank, 0, -1):  # k-th dim from the right
        first: tuple[int, Dim] | None = None
        for idx, s in zip(indices, shapes):
            if len(s) < k:
                continue
            d = s[len(s) - k]
            if isinstance(d, int) and d == 1:
                continue
            if first is None:
                first = (idx, d)
            elif not equal(first[1], d):
                ctx.require_equal(
                    first[1], d, f"`{op}` broadcast dim {-k} of inputs {first[0]} and {idx}",
                    inputs=(first[0], idx),
                )
        out.append(1 if first is None else first[1])
    return tuple(out)


def _ints(v: Union[int, list[int]]) -> list[int]:
    return [v] if isinstance(v, int) else list(v)


# ---------------------------------------------------------------------------------------------
# add, mul
# ---------------------------------------------------------------------------------------------


# torch's type promotion kinds: a python number of a higher kind than the tensors' dtype gives
# torch's default dtype of its kind (int tensor * 0.5 -> float32; bool tensor + 1 -> int64)
_KIND = {"bool": 0, "int32": 1, "int64": 1, "float16": 2, "bfloat16": 2, "float32": 2, "float64": 2}


def is_scalar(t: TensorType) -> bool:
    """`t` is a number written as an operand (`from: [x, 0.5]`), not a tensor."""
    return isinstance(t, ScalarType)


def operand_dtype(op: str, ins: Sequence[TensorType], first: int = 0, need_tensor: bool = True) -> str:
    """The dtype of an elementwise op over `ins[first:]`, tensors and numbers, as torch promotes
    python scalars: the tensor operands share a dtype (ARC202 otherwise), and a number of a higher
    kind than theirs gives torch's default dtype of its kind (float32 for a float, int64 for an
    int). With `need_tensor`, at least one operand must be a tensor (ARC102)."""
    tensors = [(i, t) for i, t in enumerate(ins) if i >= first and not is_scalar(t)]
    if not tensors and need_tensor:
        raise ShapeError(
            "ARC102", f"`{op}` needs at least one tensor operand, but every operand in `from:` is a number",
            hint="a number may stand for an operand of an elementwise op only next to a tensor",
        )
    dtype = tensors[0][1].dtype if tensors else "bool"
    for i, t in tensors[1:]:
        if t.dtype != dtype:
            raise ShapeError(
                "ARC202",
                f"`{op}` inputs must share a dtype: input {tensors[0][0]} is {dtype}, input {i} is {t.dtype}",
                hint="cast one of them (`{op: cast, to: " + dtype + "}`)",
                input_index=i,
            )
    for t in ins[first:]:
        if is_scalar(t):
            kind = 2 if isinstance(t.value, float) else 1
            if kind > _KIND[dtype]:
                dtype = "float32" if kind == 2 else "int64"
    return dtype


def _elementwise(name: str):
    def infer(ctx: InferContext, a: NoAttrs, ins: Sequence[TensorType]) -> TensorType:
        dtype = operand_dtype(name, ins)
        return TensorType(broadcast(ctx, name, [t.shape for t in ins]), dtype)

    return infer


def _scalars(node) -> int:
    """How many of the node's operands are numbers (they are not among its tensor inputs)."""
    return len(getattr(node, "scalars", None) or ())


def _lower_add(a, ins, out):
    import operator

    import torch

    from archc.ops._modules import add_n

    return Call(torch.add, inplace=operator.iadd) if len(ins) == 2 else Call(add_n)


def _lower_mul(a, ins, out):
    import torch

    from archc.ops._modules import mul_n

    return Call(torch.mul) if len(ins) == 2 else Call(mul_n)


def _elementwise_cost(node, ins, env) -> Cost:
    """(operands - 1) FLOPs per output element (a number operand counts: `x * 0.5` is 1 per element)."""
    return Cost(0, (len(ins) + _scalars(node) - 1) * numel(node.out, env))


_BCAST_DOC = "numpy broadcasting: shapes right-aligned, each dim equal across inputs or 1; " \
    "non-1 dims (symbols too) are required equal. Tensor inputs must share a dtype; a number operand " \
    "(`from: [x, 0.5]`) promotes as torch promotes python scalars (int tensor * 0.5 -> float32)."
register(
    "add",
    infer=_elementwise("add"),
    lower=_lower_add,
    cost=_elementwise_cost,
    family="tensor",
    arity=(2, None),
    doc="Elementwise sum of two or more operands (residual connections); an operand may be a number (`from: [x, 1]`).",
    shape_doc=_BCAST_DOC,
    lowers_to="torch.add (archc.ops._modules.add_n for more than two inputs)",
    traits=Traits(role="merge", inplace=True, overwritable=True),
    scalars=True,
    example="{op: add}",
    example_inputs=[(2, 3, 4), (4,)],
)
register(
    "mul",
    infer=_elementwise("mul"),
    lower=_lower_mul,
    cost=_elementwise_cost,
    family="tensor",
    arity=(2, None),
    doc="Elementwise product of two or more operands (gating, attention scaling); an operand may be a number "
    "(`from: [x, 0.5]`).",
    shape_doc=_BCAST_DOC,
    lowers_to="torch.mul (archc.ops._modules.mul_n for more than two inputs)",
    traits=Traits(role="merge"),
    scalars=True,
    example="{op: mul}",
    example_inputs=[(2, 3, 1), (2, 1, 4)],
)

# ---------------------------------------------------------------------------------------------
# concat, split
# ---------------------------------------------------------------------------------------------


class ConcatAttrs(Attrs):
    dim: int = Field(1, description="the dim to concatenate along (negative counts from the end)")


def _concat_infer(ctx: InferContext, a: ConcatAttrs, ins: Sequence[TensorType]) -> TensorType:
    dtype = same_dtype("concat", ins)
    x0 = ins[0]
    for i, t in enumerate(ins[1:], 1):
        if t.rank != x0.rank:
            e = rank_error("concat", f"inputs of the same rank as input 0 (rank {x0.rank})", t, i)
            e.input_index = i
            raise e
    dim = norm_dim("concat", a.dim, x0.rank)
    shape = list(x0.shape)
    for i, t in enumerate(ins[1:], 1):
        for k in range(x0.rank):
            if k != dim and not equal(x0.shape[k], t.shape[k]):
                ctx.require_equal(x0.shape[k], t.shape[k], f"`concat` dim {k} of inputs 0 and {i}", inputs=(0, i))
        shape[dim] = shape[dim] + t.shape[dim]
    return TensorType(tuple(shape), dtype)


def _concat_lower(a: ConcatAttrs, ins, out):
    import torch

    return Call(torch.cat, kwargs={"dim": norm_dim("concat", a.dim, ins[0].rank)}, pack_inputs=True)


register(
    "concat",
    attrs=ConcatAttrs,
    infer=_concat_infer,
    lower=_concat_lower,
    cost=no_arithmetic,
    family="tensor",
    arity=(2, None),
    doc="Concatenate two or more tensors along `dim` (U-Net skips, DenseNet features).",
    shape_doc="same rank; every dim but `dim` must be equal; the result's `dim` is the sum.",
    lowers_to="torch.cat",
    traits=Traits(role="merge"),
    example="{op: concat, dim: 1}",
    example_inputs=[(2, 3, 4), (2, 5, 4)],
)


class SplitAttrs(Attrs):
    sizes: Union[int, list[int]] = Field(
        description="a chunk size (like torch.split: the last chunk may be smaller) or the list of sizes"
    )
    dim: int = 1


def _split_infer(ctx: InferContext, a: SplitAttrs, ins: Sequence[TensorType]) -> list[TensorType]:
    x = ins[0]
    dim = norm_dim("split", a.dim, x.rank)
    L = static_dim("split", x.shape[dim], f"size of dim {dim} to split")
    if isinstance(a.sizes, int):
        if a.sizes <= 0:
            raise ShapeError("ARC204", f"`split` chunk size must be positive, got {a.sizes}")
        sizes = [a.sizes] * (L // a.sizes) + ([L % a.sizes] if L % a.sizes else [])
        if not sizes:
            raise ShapeError("ARC204", f"`split` of an empty dim {dim}", input_index=0)
    else:
        sizes = list(a.sizes)
        if not sizes or any(s < 0 for s in sizes):
            raise ShapeError("ARC204", f"`split` sizes must be a non-empty list of sizes >= 0, got {sizes}")
        if sum(sizes) != L:
            raise ShapeError(
                "ARC204",
                f"`split` sizes {sizes} add up to {sum(sizes)}, but dim {dim} of the input has size {L}",
                input_index=0,
            )
    return [x.with_shape(x.shape[:dim] + (s,) + x.shape[dim + 1:]) for s in sizes]


def _split_lower(a: SplitAttrs, ins, out):
    import torch

    sizes = a.sizes if isinstance(a.sizes, int) else list(a.sizes)
    return Call(torch.split, kwargs={"split_size_or_sections": sizes, "dim": norm_dim("split", a.dim, ins[0].rank)})


register(
    "split",
    attrs=SplitAttrs,
    infer=_split_infer,
    lower=_split_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Split a tensor along `dim` into several outputs. Refer to output i of a node `parts` as `parts[i]`; "
    "inside a flow mapping the brackets must be quoted: `- second: {op: relu, from: \"parts[1]\"}` "
    "(`parts.1` names a block repetition, not an output).",
    shape_doc="the split dim must be static; an int gives chunks of that size (the last may be smaller); "
    "a list gives exactly those sizes, which must add up to the dim.",
    lowers_to="torch.split",
    traits=Traits(aliases=True),
    example="{op: split, sizes: [2, 3], dim: 1}",
    example_inputs=[(2, 5, 4)],
)

# ---------------------------------------------------------------------------------------------
# reshape, permute, transpose, flatten, unflatten
# ---------------------------------------------------------------------------------------------


def _size_entry(v: object) -> object:
    if isinstance(v, SymExpr) or (isinstance(v, int) and not isinstance(v, bool)):
        return v
    raise PydanticCustomError("int_type", "Input should be a valid integer")


# One entry of a size list that may be symbolic: an int, or a dim that a shape query of another node
# gave (`${dim(skip, 2)}` = `H`), which the lowering reads at run time (archc.codegen.fx).
SizeEntry = Annotated[int, PlainValidator(_size_entry), PlainSerializer(lambda v: v if isinstance(v, int) else dim_str(v)),
                      WithJsonSchema({"type": "integer"})]


def _sizes_str(sizes: Sequence[Dim]) -> str:
    return "[" + ", ".join(dim_str(s) for s in sizes) + "]"


class ReshapeAttrs(Attrs):
    symbolic_sizes: ClassVar[tuple[str, ...]] = ("shape",)
    shape: list[SizeEntry] = Field(description="target shape; 0 copies the input dim at that position, one -1 is inferred; "
                                   "an entry may be another node's symbolic dim (`${dim(skip, 2)}`), read at run time")


def _atom_dim(a: object) -> Dim:
    return sym(a.name) if isinstance(a, Sym) else floordiv(a.num, a.den)  # type: ignore[attr-defined]


def exact_quotient(total: Dim, known: Dim) -> Dim | None:
    """`total / known` when `known` is one symbolic term that divides every term of `total`
    (`H*W / H = W`), else None."""
    if isinstance(known, int) or isinstance(total, int) or len(known.terms) != 1:
        return None
    (mk, ck), = known.terms
    need = Counter(mk)
    q: Dim = 0
    for m, c in total.terms:
        have = Counter(m)
        if any(have[a] < k for a, k in need.items()) or c % ck:
            return None
        term: Dim = c // ck
        for a in (have - need).elements():
            term = term * _atom_dim(a)
        q = q + term
    return q if equal(q * known, total) else None


def _infer_minus_one(ctx: InferContext, op: str, total: Dim, known: Dim, what: str) -> Dim:
    """`total / known` exactly: ARC204 if constant and not divisible, else a recorded constraint.
    A symbolic `known` (a size from another node) must divide `total` at every size."""
    if not isinstance(known, int):
        q = exact_quotient(total, known)
        if q is None:
            raise ShapeError("ARC204", f"`{op}` cannot infer -1: {what} `{dim_str(total)}` is not a multiple of "
                             f"`{dim_str(known)}` at every size", hint="give every size instead of -1", input_index=0)
        return q
    if isinstance(total, int):
        if known == 0 or total % known:
            raise ShapeError("ARC204", f"`{op}` cannot infer -1: {what} {total} is not divisible by {known}", input_index=0)
        return total // known
    q = floordiv(total, known)
    back = q * known
    if not equal(back, total):
        ctx.require_equal(back, total, f"`{op}` {what} `{dim_str(total)}` divisible by {known}")
    return q


def _is(s: Dim, v: int) -> bool:
    return isinstance(s, int) and s == v


def _reshape_infer(ctx: InferContext, a: ReshapeAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    shape = list(a.shape)
    text = _sizes_str(shape)
    if sum(_is(s, -1) for s in shape) > 1:
        raise ShapeError("ARC204", f"`reshape` shape {text} has more than one -1")
    for i, s in enumerate(shape):
        if not isinstance(s, int):
            continue
        if s < -1:
            raise ShapeError("ARC204", f"`reshape` shape {text} has the invalid entry {s}")
        if s == 0 and i >= x.rank:
            raise ShapeError(
                "ARC204",
                f"`reshape` shape {text} has 0 at position {i}, but the input {x.shape_str()} has rank {x.rank}",
                hint="0 copies the input's dim at the same position",
                input_index=0,
            )
    copied = {i for i, s in enumerate(shape) if _is(s, 0)}
    rest = prod([d for i, d in enumerate(x.shape) if i not in copied])
    known = prod([s for s in shape if not isinstance(s, int) or s > 0])
    inferred: Dim = 0
    if any(_is(s, -1) for s in shape):
        inferred = _infer_minus_one(ctx, "reshape", rest, known, "element count")
    elif not equal(rest, known):
        if isinstance(rest, int) and isinstance(known, int):
            raise ShapeError(
                "ARC204",
                f"`reshape` cannot view {x.shape_str()} as {text}: {rest} elements vs {known}",
                input_index=0,
            )
        ctx.require_equal(rest, known, f"`reshape` element count of {x.shape_str()} and {text}")
    out = [x.shape[i] if _is(s, 0) else (inferred if _is(s, -1) else s) for i, s in enumerate(shape)]
    return x.with_shape(out)


def _reshape_lower(a: ReshapeAttrs, ins, out):
    import torch

    # symbolic entries stay dims here: codegen computes them from the inputs' sizes at run time
    if any(_is(s, 0) for s in a.shape):
        from archc.ops._modules import reshape_onnx

        return Call(reshape_onnx, kwargs={"shape": tuple(a.shape)})
    return Call(torch.reshape, kwargs={"shape": tuple(a.shape)})


register(
    "reshape",
    attrs=ReshapeAttrs,
    infer=_reshape_infer,
    lower=_reshape_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Reshape with ONNX semantics: 0 copies the input dim at that position, one -1 is inferred.",
    shape_doc="the element count is kept; copied dims cancel before -1 is divided out, so "
    "[B, T, 768] -> [0, 0, 12, -1] gives [B, T, 12, 64]; a symbolic count records a divisibility constraint.",
    lowers_to="torch.reshape (archc.ops._modules.reshape_onnx when the shape has 0 entries)",
    traits=Traits(role="view", aliases=True),
    example="{op: reshape, shape: [0, 0, 2, -1]}",
    example_inputs=[(2, 3, 8)],
)


class PermuteAttrs(Attrs):
    dims: list[int] = Field(description="the new order of the input dims")


def _permute_infer(ctx: InferContext, a: PermuteAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    if len(a.dims) != x.rank:
        raise ShapeError(
            "ARC204", f"`permute` dims {a.dims} name {len(a.dims)} dims, but the input has rank {x.rank}", input_index=0
        )
    dims = [norm_dim("permute", d, x.rank) for d in a.dims]
    if sorted(dims) != list(range(x.rank)):
        raise ShapeError("ARC204", f"`permute` dims {a.dims} are not a permutation of the {x.rank} input dims")
    return x.with_shape([x.shape[d] for d in dims])


def _permute_lower(a: PermuteAttrs, ins, out):
    import torch

    return Call(torch.permute, kwargs={"dims": tuple(norm_dim("permute", d, ins[0].rank) for d in a.dims)})


register(
    "permute",
    attrs=PermuteAttrs,
    infer=_permute_infer,
    lower=_permute_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Reorder the dims of a tensor.",
    shape_doc="output dim i is input dim dims[i]; dims must be a permutation of the input's dims.",
    lowers_to="torch.permute",
    traits=Traits(role="view", aliases=True),
    example="{op: permute, dims: [0, 2, 1]}",
    example_inputs=[(2, 3, 4)],
)


class TransposeAttrs(Attrs):
    dim0: int
    dim1: int


def _transpose_infer(ctx: InferContext, a: TransposeAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    d0 = norm_dim("transpose", a.dim0, x.rank, "dim0")
    d1 = norm_dim("transpose", a.dim1, x.rank, "dim1")
    shape = list(x.shape)
    shape[d0], shape[d1] = shape[d1], shape[d0]
    return x.with_shape(shape)


def _transpose_lower(a: TransposeAttrs, ins, out):
    import torch

    return Call(torch.transpose, kwargs={"dim0": a.dim0, "dim1": a.dim1})


register(
    "transpose",
    attrs=TransposeAttrs,
    infer=_transpose_infer,
    lower=_transpose_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Swap two dims.",
    shape_doc="dims dim0 and dim1 are exchanged.",
    lowers_to="torch.transpose",
    traits=Traits(role="view", aliases=True),
    example="{op: transpose, dim0: 1, dim1: 2}",
    example_inputs=[(2, 3, 4)],
)


class FlattenAttrs(Attrs):
    start_dim: int = 1
    end_dim: int = -1


def _flatten_infer(ctx: InferContext, a: FlattenAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    s = norm_dim("flatten", a.start_dim, x.rank, "start_dim")
    e = norm_dim("flatten", a.end_dim, x.rank, "end_dim")
    if s > e:
        raise ShapeError("ARC204", f"`flatten` start_dim={a.start_dim} comes after end_dim={a.end_dim}")
    return x.with_shape(x.shape[:s] + (prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def _flatten_lower(a: FlattenAttrs, ins, out):
    import torch

    return Call(torch.flatten, kwargs={"start_dim": a.start_dim, "end_dim": a.end_dim})


register(
    "flatten",
    attrs=FlattenAttrs,
    infer=_flatten_infer,
    lower=_flatten_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Merge the dims start_dim..end_dim into one.",
    shape_doc="[B, C, H, W] -> [B, C*H*W] by default; symbolic products are fine.",
    lowers_to="torch.flatten",
    traits=Traits(role="view", aliases=True),
    example="{op: flatten}",
    example_inputs=[(2, 3, 4, 5)],
)


class UnflattenAttrs(Attrs):
    symbolic_sizes: ClassVar[tuple[str, ...]] = ("sizes",)
    dim: int
    sizes: list[SizeEntry] = Field(description="the sizes to split `dim` into; one may be -1 (inferred); a size may be "
                                   "another node's symbolic dim (`${dim(skip, 2)}`), read at run time")


def _unflatten_infer(ctx: InferContext, a: UnflattenAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    dim = norm_dim("unflatten", a.dim, x.rank)
    sizes = list(a.sizes)
    text = _sizes_str(sizes)
    if not sizes:
        raise ShapeError("ARC204", "`unflatten` sizes must not be empty")
    ints = [s for s in sizes if isinstance(s, int)]
    if ints.count(-1) > 1 or any(s < -1 or s == 0 for s in ints):
        raise ShapeError("ARC204", f"`unflatten` sizes {text} must be positive, with at most one -1")
    L = x.shape[dim]
    known = prod([s for s in sizes if not _is(s, -1)])
    if -1 in ints:
        inferred = _infer_minus_one(ctx, "unflatten", L, known, f"size of dim {dim}")
        sizes = [inferred if _is(s, -1) else s for s in sizes]
    elif not equal(L, known):
        if isinstance(L, int) and isinstance(known, int):
            raise ShapeError(
                "ARC204", f"`unflatten` sizes {text} multiply to {known}, but dim {dim} has size {L}", input_index=0
            )
        ctx.require_equal(L, known, f"`unflatten` size of dim {dim} and the product of {text}")
    return x.with_shape(x.shape[:dim] + tuple(sizes) + x.shape[dim + 1:])


def _unflatten_lower(a: UnflattenAttrs, ins, out):
    import torch

    return Call(torch.unflatten, kwargs={"dim": a.dim, "sizes": tuple(a.sizes)})


register(
    "unflatten",
    attrs=UnflattenAttrs,
    infer=_unflatten_infer,
    lower=_unflatten_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Split one dim into several (e.g. [B, T, 768] -> [B, T, 12, 64] for attention heads).",
    shape_doc="dim `dim` is replaced by `sizes`, whose product must equal it; one -1 is inferred.",
    lowers_to="torch.unflatten",
    traits=Traits(role="view", aliases=True),
    example="{op: unflatten, dim: 1, sizes: [2, -1]}",
    example_inputs=[(2, 6, 4)],
)

# ---------------------------------------------------------------------------------------------
# matmul, mean, identity
# ---------------------------------------------------------------------------------------------


def _matmul_infer(ctx: InferContext, a: NoAttrs, ins: Sequence[TensorType]) -> TensorType:
    x, y = ins
    dtype = same_dtype("matmul", ins)
    for i, t in enumerate(ins):
        if t.rank == 0:
            e = rank_error("matmul", "inputs of rank >= 1", t, i)
            e.input_index = i
            raise e
    xs, ys = list(x.shape), list(y.shape)
    x_vec, y_vec = x.rank == 1, y.rank == 1
    if x_vec:
        xs = [1] + xs
    if y_vec:
        ys = ys + [1]
    if not equal(xs[-1], ys[-2]):
        ctx.require_equal(
            xs[-1], ys[-2], "`matmul` inner dims (last of input 0, "
            + ("only" if y_vec else "second to last") + " of input 1)", inputs=(0, 1)
        )
    batch = broadcast(ctx, "matmul", [xs[:-2], ys[:-2]]) if (len(xs) > 2 or len(ys) > 2) else ()
    out = list(batch)
    if not x_vec:
        out.append(xs[-2])
    if not y_vec:
        out.append(ys[-1])
    return TensorType(tuple(out), dtype)


def _matmul_cost(node, ins, env) -> Cost:
    """MACs out_elems * k (k the contracted dim: batched and broadcast operands follow the output)."""
    macs = numel(node.out, env) * size(ins[0].shape[-1], env)
    return Cost(macs, 2 * macs)


def _matmul_lower(a, ins, out):
    import torch

    return Call(torch.matmul)


register(
    "matmul",
    infer=_matmul_infer,
    lower=_matmul_lower,
    cost=_matmul_cost,
    family="tensor",
    arity=(2, 2),
    doc="Matrix product with torch.matmul semantics (batched, broadcasting, 1-d operands).",
    shape_doc="[..., n, k] @ [..., k, m] -> [broadcast(...), n, m]; a 1-d operand gets a 1 prepended "
    "(left) or appended (right) that is removed again; the inner dims k must be equal.",
    lowers_to="torch.matmul",
    example="{op: matmul}",
    example_inputs=[(2, 3, 4), (4, 5)],
)


class MeanAttrs(Attrs):
    dims: Union[int, list[int]] = Field(description="the dim or dims to average over (negative counts from the end)")
    keepdim: bool = Field(False, description="keep each reduced dim as size 1")


def reduce_dims(op: str, dims: Union[int, list[int]], rank: int) -> list[int]:
    """A reduction's `dims` (one dim or a list) normalised to [0, rank); ARC204 when out of range,
    named twice or empty. Shared by `mean` and the reductions of archc.ops.reduce."""
    out = [norm_dim(op, d, rank, "dims") for d in _ints(dims)]
    if len(set(out)) != len(out):
        raise ShapeError("ARC204", f"`{op}` dims {dims} name a dim twice",
                         hint="a negative dim and a positive one can name the same dim: list each once")
    if not out:
        raise ShapeError("ARC204", f"`{op}` dims must not be empty", hint="name at least one dim")
    return out


def reduced_shape(op: str, dims: Union[int, list[int]], keepdim: bool, x: TensorType) -> list[Dim]:
    """`x`'s shape with `dims` removed (kept as 1 with `keepdim`)."""
    drop = set(reduce_dims(op, dims, x.rank))
    if keepdim:
        return [1 if i in drop else d for i, d in enumerate(x.shape)]
    return [d for i, d in enumerate(x.shape) if i not in drop]


def _mean_infer(ctx: InferContext, a: MeanAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    require_float("mean", x)
    return x.with_shape(reduced_shape("mean", a.dims, a.keepdim, x))


def _mean_cost(node, ins, env) -> Cost:
    """1 FLOP per input element (the sums and the divides)."""
    return Cost(0, numel(ins[0], env))


def _mean_lower(a: MeanAttrs, ins, out):
    import torch

    return Call(torch.mean, kwargs={"dim": tuple(reduce_dims("mean", a.dims, ins[0].rank)), "keepdim": a.keepdim})


register(
    "mean",
    attrs=MeanAttrs,
    infer=_mean_infer,
    lower=_mean_lower,
    cost=_mean_cost,
    family="tensor",
    doc="Average over one or more dims (global average pooling as `dims: [2, 3]`).",
    shape_doc="the reduced dims are removed (kept as 1 with keepdim).",
    lowers_to="torch.mean",
    example="{op: mean, dims: [2, 3]}",
    example_inputs=[(2, 3, 4, 5)],
)


def _identity_infer(ctx: InferContext, a: NoAttrs, ins: Sequence[TensorType]) -> TensorType:
    return ins[0]


def _identity_lower(a, ins, out):
    import torch.nn as nn

    return nn.Identity()


register(
    "identity",
    infer=_identity_infer,
    lower=_identity_lower,
    cost=no_arithmetic,
    family="tensor",
    doc="Pass the input through unchanged.",
    shape_doc="output = input.",
    lowers_to="torch.nn.Identity",
    traits=Traits(role="pass", aliases=True),
    example="{op: identity}",
    example_inputs=[(2, 3)],
)

__all__ = ["norm_dim", "require_float", "same_dtype", "prod", "static_dim", "broadcast", "is_scalar", "operand_dtype",
           "reduce_dims", "reduced_shape"]
