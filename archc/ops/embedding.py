"""op: embedding, positional_embedding, pos_embedding_param, class_token, patch_embedding: the
token, position and patch front ends of transformers (GPT-2's wte/wpe, BERT's embeddings,
torchvision ViT's conv_proj / class_token / encoder.pos_embedding, timm's patch_embed.proj)."""
from __future__ import annotations

from typing import Literal, Optional, Sequence

from pydantic import Field

from archc.ir.dims import dim_str, equal, floordiv
from archc.ir.types import FLOAT_DTYPES, ShapeError, TensorType
from archc.ops._cost import Cost, no_arithmetic, numel, per_output_element, size
from archc.ops._registry import Attrs, Call, InferContext, Traits, rank_error, register
from archc.ops.tensor import require_float, static_dim

INT_DTYPES = ("int64", "int32")

# ---------------------------------------------------------------------------------------------
# embedding
# ---------------------------------------------------------------------------------------------


class EmbeddingAttrs(Attrs):
    num: int = Field(gt=0, description="vocabulary size (number of rows)")
    dim: int = Field(gt=0, description="embedding size")
    padding_idx: Optional[int] = Field(None, description="a row whose vector is zero and gets no gradient")


def _require_ids(op: str, x: TensorType, index: int = 0) -> None:
    if x.dtype not in INT_DTYPES:
        raise ShapeError(
            "ARC202",
            f"`{op}` needs integer token ids (int64 or int32), but input {index} is {x.dtype}",
            hint="declare the input with `dtype: int64` (and a `range: [0, vocab]` for examples)",
            input_index=index,
        )


def _embedding_infer(ctx: InferContext, a: EmbeddingAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    _require_ids("embedding", x)
    if a.padding_idx is not None and not -a.num <= a.padding_idx < a.num:
        raise ShapeError("ARC204", f"`embedding` padding_idx={a.padding_idx} is out of range for num={a.num}")
    return TensorType(x.shape + (a.dim,), "float32")


def _embedding_params(a: EmbeddingAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    return {"weight": (a.num, a.dim)}


def _embedding_lower(a: EmbeddingAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch.nn as nn

    return nn.Embedding(a.num, a.dim, padding_idx=a.padding_idx)


register(
    "embedding",
    attrs=EmbeddingAttrs,
    infer=_embedding_infer,
    params=_embedding_params,
    lower=_embedding_lower,
    cost=no_arithmetic,  # a lookup
    family="embedding",
    doc="Lookup table of `num` learned vectors of size `dim` (token embeddings: GPT-2's `wte`, "
    "BERT's `word_embeddings`). The input must hold integer ids in [0, num).",
    shape_doc="integer ids of any shape [...] -> [..., dim] float32; a non-integer input is ARC202.",
    lowers_to="torch.nn.Embedding",
    traits=Traits(width="dim", width_dim=-1, vocab="num", init=True),
    example="{op: embedding, num: 10, dim: 8}",
    example_inputs=[(2, 5)],
    example_dtypes=["int64"],
    example_ranges=[(0, 10)],
)

# ---------------------------------------------------------------------------------------------
# positional_embedding
# ---------------------------------------------------------------------------------------------


class PositionalEmbeddingAttrs(Attrs):
    max_len: int = Field(gt=0, description="the number of positions (T <= max_len - offset must hold)")
    dim: Optional[int] = Field(
        None, gt=0, description="embedding size; default: the input's last dim when it is float [B, T, D] "
        "(required when the input is token ids [B, T])")
    kind: Literal["learned", "sinusoidal"] = "learned"
    offset: int = Field(0, ge=0, description="the first position (positions offset..offset+T-1)")


def _pos_dim(a: PositionalEmbeddingAttrs, x: TensorType) -> int:
    if x.rank == 3:
        if x.dtype not in FLOAT_DTYPES:
            raise ShapeError("ARC202", f"`positional_embedding` needs a float [B, T, D] input or integer ids "
                             f"[B, T], got {x.shape_str()} {x.dtype}", input_index=0)
        D = static_dim("positional_embedding", x.shape[2], "feature size (last dim)")
        if a.dim is not None and a.dim != D:
            raise ShapeError("ARC204", f"`positional_embedding` dim={a.dim} differs from the input's features {D}",
                             hint="leave `dim` out: it is inferred from the input", input_index=0)
        return D
    if x.rank != 2:
        raise rank_error("positional_embedding", "[B, T] token ids or [B, T, D] features", x)
    if a.dim is None:
        raise ShapeError("ARC204", "`positional_embedding` of token ids [B, T] needs `dim`",
                         hint="set `dim`, or feed it the embedded tokens [B, T, D]", input_index=0)
    return a.dim


def _posemb_infer(ctx: InferContext, a: PositionalEmbeddingAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    dim = _pos_dim(a, x)
    T = x.shape[1]
    if isinstance(T, int) and a.offset + T > a.max_len:
        raise ShapeError(
            "ARC204",
            f"`positional_embedding` has max_len={a.max_len} positions"
            + (f" (from offset {a.offset})" if a.offset else "") + f", but the sequence has length {T}",
            input_index=0,
        )
    # A symbolic T must stay <= max_len - offset at run time (the symbol's max is the place to say so).
    return TensorType((1, T, dim), x.dtype if x.dtype in FLOAT_DTYPES else "float32")


def _posemb_params(a: PositionalEmbeddingAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    if a.kind == "sinusoidal":
        return {}
    return {"weight": (a.max_len, _pos_dim(a, ins[0]))}


def _posemb_lower(a: PositionalEmbeddingAttrs, ins: Sequence[TensorType], out: TensorType):
    from archc.ops._seqmodules import LearnedPositionalEmbedding, SinusoidalPositionalEmbedding

    dim = _pos_dim(a, ins[0])
    cls = LearnedPositionalEmbedding if a.kind == "learned" else SinusoidalPositionalEmbedding
    return cls(a.max_len, dim, a.offset)


def _posemb_cost(node, ins, env) -> Cost:
    """The sinusoidal table costs 2 FLOPs per element (the angle and its sin/cos); a learned one is a lookup."""
    return Cost(0, 2 * numel(node.out, env) if node.attrs.kind == "sinusoidal" else 0)


register(
    "positional_embedding",
    attrs=PositionalEmbeddingAttrs,
    infer=_posemb_infer,
    params=_posemb_params,
    lower=_posemb_lower,
    cost=_posemb_cost,
    family="embedding",
    doc="Position embeddings for positions offset..offset+T-1, to be added to the tokens with an `add` "
    "node. `learned`: a [max_len, dim] table with state_dict key `weight` (GPT-2's `wpe`, BERT's "
    "`position_embeddings`); `sinusoidal`: the fixed Vaswani et al. table, computed at run time (no "
    "parameters or buffers). T is read at run time, so it may be symbolic; it must not exceed "
    "max_len - offset (a static T that does is ARC204; bound a symbolic T with the symbol's `max`).",
    shape_doc="[B, T] ids (needs `dim`) or [B, T, D] float (dim defaults to D) -> [1, T, dim].",
    lowers_to="archc.ops._seqmodules.LearnedPositionalEmbedding (an nn.Embedding) / SinusoidalPositionalEmbedding",
    traits=Traits(positional=True, init=True),
    example="{op: positional_embedding, max_len: 16}",
    example_inputs=[(2, 5, 8)],
)

# ---------------------------------------------------------------------------------------------
# pos_embedding_param, class_token
# ---------------------------------------------------------------------------------------------


class PosEmbeddingParamAttrs(Attrs):
    length: int = Field(gt=0, description="the sequence length the parameter covers (the input's T must equal it)")
    init_std: float = Field(0.02, ge=0, description="std of the normal initialisation")


def _rank3_float(op: str, x: TensorType) -> int:
    if x.rank != 3:
        raise rank_error(op, "a rank-3 input [B, N, D]", x)
    require_float(op, x)
    return static_dim(op, x.shape[2], "feature size (last dim)")


def _pep_infer(ctx: InferContext, a: PosEmbeddingParamAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    _rank3_float("pos_embedding_param", x)
    if not equal(x.shape[1], a.length):
        if isinstance(x.shape[1], int):
            raise ShapeError("ARC204", f"`pos_embedding_param` has length={a.length}, but the input sequence has "
                             f"length {x.shape[1]}", input_index=0)
        ctx.require_equal(x.shape[1], a.length, f"`pos_embedding_param` sequence length `{dim_str(x.shape[1])}` "
                          f"equal to length={a.length}")
    return x


def _pep_params(a: PosEmbeddingParamAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    return {"": (1, a.length, _rank3_float("pos_embedding_param", ins[0]))}


def _pep_lower(a: PosEmbeddingParamAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch

    D = _rank3_float("pos_embedding_param", ins[0])
    p = torch.empty(1, a.length, D).normal_(std=a.init_std) if a.init_std > 0 else torch.zeros(1, a.length, D)
    return Call(torch.add, params={"": torch.nn.Parameter(p)})


register(
    "pos_embedding_param",
    attrs=PosEmbeddingParamAttrs,
    infer=_pep_infer,
    params=_pep_params,
    lower=_pep_lower,
    cost=per_output_element(1),  # its add
    family="embedding",
    doc="Add a learned [1, length, D] parameter to the input (torchvision ViT's `encoder.pos_embedding`). "
    "The parameter's state_dict key is the node path itself. The input's length must equal `length`: "
    "a symbolic one gets a derived constraint (a ViT with symbolic H, W is pinned to its image size).",
    shape_doc="[B, length, D] -> [B, length, D]; D is inferred.",
    lowers_to="torch.add with a node-owned parameter",
    traits=Traits(positional=True),
    example="{op: pos_embedding_param, length: 5}",
    example_inputs=[(2, 5, 8)],
)


def _ct_infer(ctx: InferContext, a: Attrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    _rank3_float("class_token", x)
    return x.with_shape((x.shape[0], x.shape[1] + 1, x.shape[2]))


def _ct_params(a: Attrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    return {"": (1, 1, _rank3_float("class_token", ins[0]))}


def _ct_lower(a: Attrs, ins: Sequence[TensorType], out: TensorType):
    import torch

    from archc.ops._seqmodules import prepend_token

    D = _rank3_float("class_token", ins[0])
    return Call(prepend_token, params={"": torch.nn.Parameter(torch.zeros(1, 1, D))})


register(
    "class_token",
    infer=_ct_infer,
    params=_ct_params,
    lower=_ct_lower,
    cost=no_arithmetic,  # a concatenation
    family="embedding",
    doc="Prepend a learned [1, 1, D] token (zero-initialised) to every sequence of the batch "
    "(torchvision ViT's `class_token`; the state_dict key is the node path itself).",
    shape_doc="[B, N, D] -> [B, N+1, D]; D is inferred.",
    lowers_to="archc.ops._seqmodules.prepend_token (torch.cat) with a node-owned parameter",
    example="{op: class_token}",
    example_inputs=[(2, 5, 8)],
)

# ---------------------------------------------------------------------------------------------
# patch_embedding
# ---------------------------------------------------------------------------------------------


class PatchEmbeddingAttrs(Attrs):
    dim: int = Field(gt=0, description="embedding size (the conv's output channels)")
    patch: int = Field(gt=0, description="patch size: the conv's kernel and stride")
    bias: bool = True


def _pe_channels(x: TensorType) -> int:
    if x.rank != 4:
        raise rank_error("patch_embedding", "a rank-4 input [B, C, H, W]", x)
    require_float("patch_embedding", x)
    return static_dim("patch_embedding", x.shape[1], "channel count")


def _pe_infer(ctx: InferContext, a: PatchEmbeddingAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    _pe_channels(x)
    grid = []
    for i, name in ((2, "height"), (3, "width")):
        L = x.shape[i]
        n = floordiv(L, a.patch)
        if not equal(n * a.patch, L):
            ctx.require_equal(n * a.patch, L, f"`patch_embedding` {name} `{dim_str(L)}` divisible by patch={a.patch}",
                              inputs=(0, 0))
        grid.append(n)
    return x.with_shape((x.shape[0], grid[0] * grid[1], a.dim))


def _pe_params(a: PatchEmbeddingAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    p = {"proj.weight": (a.dim, _pe_channels(ins[0]), a.patch, a.patch)}
    if a.bias:
        p["proj.bias"] = (a.dim,)
    return p


def _pe_lower(a: PatchEmbeddingAttrs, ins: Sequence[TensorType], out: TensorType):
    from archc.ops._seqmodules import PatchEmbedding

    return PatchEmbedding(_pe_channels(ins[0]), a.dim, a.patch, a.bias)


def _pe_cost(node, ins, env) -> Cost:
    """A convolution with kernel = stride = patch: MACs out_elems * C * patch^2, + the bias."""
    a = node.attrs
    out = numel(node.out, env)
    macs = out * size(ins[0].shape[1], env) * a.patch * a.patch
    return Cost(macs, 2 * macs + (out if a.bias else 0))


register(
    "patch_embedding",
    attrs=PatchEmbeddingAttrs,
    infer=_pe_infer,
    params=_pe_params,
    lower=_pe_lower,
    cost=_pe_cost,
    family="embedding",
    doc="Split an image into non-overlapping patch x patch squares and project each to `dim` "
    "(a Conv2d with kernel = stride = patch, submodule `proj` as in timm), as a token sequence.",
    shape_doc="[B, C, H, W] -> [B, (H/patch)*(W/patch), dim]; H and W must be divisible by patch "
    "(a constraint on symbolic sizes).",
    lowers_to="archc.ops._seqmodules.PatchEmbedding (Conv2d `proj`, flatten(2), transpose(1, 2))",
    traits=Traits(width="dim", width_dim=-1, init=True),
    example="{op: patch_embedding, dim: 16, patch: 4}",
    example_inputs=[(2, 3, 8, 12)],
)
