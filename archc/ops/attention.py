"""op: attention (multi-head, self or cross, with padding/additive masks and causal masking) and
sdpa (bare scaled dot-product attention over heads the spec built itself).

Both lower to torch.nn.functional.scaled_dot_product_attention. Masks: a bool mask is True where a
query may attend a key (SDPA's convention, the opposite of nn.MultiheadAttention's
key_padding_mask); a float mask is added to the scores (0 = attend, -inf = not).
"""
from __future__ import annotations

import re
from math import prod
from typing import Literal, Optional, Sequence

from pydantic import Field

from archc.ir.dims import Dim, dim_str, equal
from archc.ir.types import FLOAT_DTYPES, ShapeError, TensorType
from archc.ops._cost import Cost, causal_pairs, sizes
from archc.ops._registry import Attrs, Call, InferContext, OnnxLimit, Traits, rank_error, register
from archc.ops.activation import FLOPS_PER_ELEMENT
from archc.ops.tensor import broadcast, require_float, same_dtype, static_dim

INT_DTYPES = ("int64", "int32")
PROJ_KEYS = ("qkv", "q", "k", "v", "out")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class AttentionAttrs(Attrs):
    heads: int = Field(gt=0, description="number of heads; must divide the model dim D")
    causal: bool = Field(False, description="query t attends only keys s <= t (top-left aligned)")
    packed: bool = Field(True, description="one in-projection D -> 3D for q, k, v (self-attention only)")
    bias: bool = Field(True, description="biases on the projections")
    out_proj: bool = Field(True, description="the output projection D -> D (false: return the merged heads)")
    dropout: float = Field(0.0, ge=0, lt=1, description="attention-probability dropout (train mode only)")
    layout: Literal["archc", "torch"] = Field(
        "archc", description="'torch': nn.MultiheadAttention's parameters (in_proj_weight, in_proj_bias, out_proj)")
    proj_names: dict[str, str] = Field(
        {},
        description="submodule names of the projections (keys qkv, q, k, v, out; dotted values nest, e.g. "
        "{q: self.query}); default: the key itself",
    )


def _mask_kind(op: str, m: TensorType, index: int) -> str:
    """'padding' for a [B, S] bool/int mask, 'full' for a bool/float mask broadcast to [..., T, S]."""
    if m.rank == 2 and (m.dtype == "bool" or m.dtype in INT_DTYPES):
        return "padding"
    if m.dtype == "bool" or m.dtype in FLOAT_DTYPES:
        if not 1 <= m.rank <= 4:
            raise rank_error(op, "a mask of rank 1 to 4", m, index)
        return "full"
    raise ShapeError("ARC202", f"`{op}` mask must be bool (True = attend), a float additive mask, or an integer "
                     f"[B, S] padding mask; input {index} is {m.shape_str()} {m.dtype}", input_index=index)


def _check_full_mask(ctx: InferContext, op: str, m: TensorType, target: Sequence[Dim], index: int) -> None:
    if m.rank > len(target):
        raise rank_error(op, f"a mask of rank <= {len(target)}", m, index)
    out = broadcast(ctx, op, [tuple(target), m.shape], [0, index])
    if not all(equal(a, b) for a, b in zip(out, target)):
        raise ShapeError("ARC201", f"`{op}` mask {m.shape_str()} does not broadcast to "
                         f"[{', '.join(dim_str(d) for d in target)}]", input_index=index)


def _features(op: str, t: TensorType, index: int) -> int:
    return static_dim(op, t.shape[-1], "feature size (last dim)", index)


class _Shape:
    """Everything the infer, params and lower of `attention` share."""

    def __init__(self, ctx: Optional[InferContext], a: AttentionAttrs, ins: Sequence[TensorType]):
        op = "attention"
        x = ins[0]
        if x.rank != 3:
            raise rank_error(op, "a rank-3 input [B, T, D]", x)
        require_float(op, x)
        self.D = D = _features(op, x, 0)
        if D % a.heads:
            raise ShapeError("ARC204", f"`attention` model dim D={D} is not divisible by heads={a.heads}",
                             hint="D must be a multiple of heads (head dim = D / heads)", input_index=0)
        # inputs: (x), (x, memory), (x, memory, mask). A packed attention with three inputs is
        # self-attention with a mask, written `from: [x, x, mask]`: its second input must be x.
        if len(ins) == 2 and a.packed:
            raise ShapeError("ARC204", "`attention` with a memory input (cross-attention) cannot be `packed`",
                             hint="set `packed: false` (separate q, k, v projections), or for self-attention "
                             "with a mask write `from: [x, x, mask]`")
        self.cross = len(ins) >= 2 and not a.packed
        self.has_mask = len(ins) == 3
        mem = ins[1] if len(ins) >= 2 else x
        if len(ins) >= 2:
            if mem.rank != 3:
                raise rank_error(op, "a rank-3 memory [B, S, Dm]", mem, 1)
            require_float(op, mem, 1)
            same_dtype(op, ins[:2])
        if len(ins) == 3 and a.packed and mem.shape != x.shape:
            raise ShapeError("ARC204", f"`attention` is packed (self-attention), so its inputs must be "
                             f"`from: [x, x, mask]`, but input 1 {mem.shape_str()} differs from x {x.shape_str()}",
                             hint="for cross-attention set `packed: false`", input_index=1)
        if self.cross and ctx is not None and not equal(x.shape[0], mem.shape[0]):
            ctx.require_equal(x.shape[0], mem.shape[0], "`attention` batch of x and memory", inputs=(0, 1))
        self.Dm = _features(op, mem, 1) if self.cross else D
        self.B, self.T, self.S = x.shape[0], x.shape[1], mem.shape[1]
        self.padding = False
        if self.has_mask:
            m = ins[2]
            kind = _mask_kind(op, m, 2)
            self.padding = kind == "padding"
            if ctx is not None:
                if self.padding:
                    for k, (got, want, what) in enumerate(((m.shape[0], self.B, "batch"), (m.shape[1], self.S, "key length"))):
                        if not equal(got, want):
                            ctx.require_equal(want, got, f"`attention` padding mask {what} (dim {k})", inputs=(0, 2))
                else:
                    _check_full_mask(ctx, op, m, (self.B, a.heads, self.T, self.S), 2)
        # projection names
        if a.layout == "torch":
            if a.proj_names:
                raise ShapeError("ARC204", "`attention` layout 'torch' has fixed parameter names; drop `proj_names`")
            if not a.out_proj:
                raise ShapeError("ARC204", "`attention` layout 'torch' always has `out_proj` (nn.MultiheadAttention)")
        used = (["qkv"] if a.packed else ["q", "k", "v"]) + (["out"] if a.out_proj else [])
        names = {}
        for k, v in a.proj_names.items():
            if k not in PROJ_KEYS:
                raise ShapeError("ARC204", f"`attention` proj_names key `{k}` is not one of {', '.join(PROJ_KEYS)}")
            if k not in used:
                raise ShapeError("ARC204", f"`attention` proj_names names `{k}`, which this attention does not have "
                                 f"(it has {', '.join(used)})")
            if not _PATH.match(v):
                raise ShapeError("ARC204", f"`attention` proj_names `{k}: {v}` is not a dotted module path")
            names[k] = v
        paths = [names.get(k, k) for k in used]
        for i, p in enumerate(paths):
            for q in paths[i + 1:]:
                if p == q or q.startswith(p + ".") or p.startswith(q + "."):
                    raise ShapeError("ARC204", f"`attention` projection names `{p}` and `{q}` collide")
        self.used, self.names = used, {k: names.get(k, k) for k in used}


def _attn_infer(ctx: InferContext, a: AttentionAttrs, ins: Sequence[TensorType]) -> TensorType:
    _Shape(ctx, a, ins)
    return ins[0]


def _attn_params(a: AttentionAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    s = _Shape(None, a, ins)
    D, Dm = s.D, s.Dm
    p: dict[str, tuple[int, ...]] = {}
    if a.layout == "torch":
        if Dm == D:
            p["in_proj_weight"] = (3 * D, D)
        else:
            p.update(q_proj_weight=(D, D), k_proj_weight=(D, Dm), v_proj_weight=(D, Dm))
        if a.bias:
            p["in_proj_bias"] = (3 * D,)
        p["out_proj.weight"] = (D, D)
        if a.bias:
            p["out_proj.bias"] = (D,)
        return p
    shapes = {"qkv": (3 * D, D), "q": (D, D), "k": (D, Dm), "v": (D, Dm), "out": (D, D)}
    for k in s.used:
        path = s.names[k]
        p[f"{path}.weight"] = shapes[k]
        if a.bias:
            p[f"{path}.bias"] = (shapes[k][0],)
    return p


def _attn_lower(a: AttentionAttrs, ins: Sequence[TensorType], out: TensorType):
    from archc.ops._seqmodules import Attention

    s = _Shape(None, a, ins)
    return Attention(
        s.D, a.heads, s.Dm, cross=s.cross, has_mask=s.has_mask, padding=s.padding, causal=a.causal,
        packed=a.packed, bias=a.bias, out_proj=a.out_proj, dropout=a.dropout, layout=a.layout, names=s.names,
    )


SOFTMAX = FLOPS_PER_ELEMENT["softmax"]


def _attn_cost(node, ins, env) -> Cost:
    """MACs: the projections (qkv or q, k, v; out) + Q K^T and A V, 2 * B * T * S * D. FLOPs: 2 * MACs
    + the projections' biases + per (query, key) pair and head: scale 1, softmax 5, a mask 1. Causal
    attention also counts the allowed pairs only (`macs_causal`, `flops_causal`). Workspace: q, k, v
    and the merged heads (fused SDPA kernels do not materialise the scores)."""
    a = node.attrs
    x = sizes(ins[0], env)
    B, T, D = x
    packed = getattr(a, "packed", True)
    cross = len(ins) >= 2 and not packed
    mem = sizes(ins[1], env) if cross else x
    S, Dm = mem[1], mem[2]
    H = a.heads
    mask = len(ins) == 3
    if packed:
        proj = B * T * D * 3 * D
        bias = B * T * 3 * D
    else:
        proj = B * T * D * D + 2 * B * S * Dm * D
        bias = B * T * D + 2 * B * S * D
    if a.out_proj:
        proj += B * T * D * D
        bias += B * T * D
    if not a.bias:
        bias = 0
    per_pair = 1 + SOFTMAX + (1 if mask else 0)

    def total(pairs: int) -> tuple[int, int]:
        macs = proj + 2 * B * pairs * D
        return macs, 2 * macs + bias + B * H * pairs * per_pair

    macs, flops = total(T * S)
    mc, fc = total(causal_pairs(T, S)) if a.causal else (None, None)
    workspace = B * T * D + 2 * B * S * D + B * T * D  # q, k, v and the merged heads
    return Cost(macs, flops, mc, fc, workspace)


register(
    "attention",
    attrs=AttentionAttrs,
    infer=_attn_infer,
    params=_attn_params,
    lower=_attn_lower,
    cost=_attn_cost,
    family="attention",
    arity=(1, 3),
    traits=Traits(weighted=True, attention="layer", init=True),
    doc="Multi-head attention (batch first). Inputs: x (self-attention); x, memory (cross-attention: "
    "k and v project the memory's Dm features to D; needs `packed: false`); x, memory, mask — use "
    "`from: [x, x, mask]` for self-attention with a mask. The mask is a [B, S] padding mask (bool, or "
    "integer like HF's attention_mask: True/nonzero = attend), or a bool (True = attend) or float "
    "additive mask broadcastable to [B, heads, T, S]; `causal` is combined with it. Parameters "
    "(layout 'archc', default names): qkv.weight [3D, D] and qkv.bias [3D] when packed (q, k, v "
    "in that order along dim 0), else q.weight [D, D], k.weight [D, Dm], v.weight [D, Dm] and "
    "their biases; out.weight [D, D], out.bias [D] unless out_proj is false. `proj_names` renames "
    "them (GPT-2: {qkv: c_attn, out: c_proj}; BERT: {q: query, k: key, v: value} with out_proj "
    "false). Layout 'torch': nn.MultiheadAttention's in_proj_weight [3D, D] (q_proj_weight, "
    "k_proj_weight, v_proj_weight when Dm != D), in_proj_bias [3D], out_proj.weight, "
    "out_proj.bias. A fully masked query row gives NaN, as in torch.",
    shape_doc="x [B, T, D] (memory [B, S, Dm], mask [B, S] or broadcastable to [B, heads, T, S]) -> "
    "[B, T, D]; D must be static and divisible by heads.",
    lowers_to="archc.ops._seqmodules.Attention (torch.nn.functional.scaled_dot_product_attention)",
    example="{op: attention, heads: 2, causal: true}",
    example_inputs=[(2, 5, 8)],
)

# ---------------------------------------------------------------------------------------------
# sdpa
# ---------------------------------------------------------------------------------------------


class SdpaAttrs(Attrs):
    causal: bool = Field(False, description="query t attends only keys s <= t (top-left aligned)")
    scale: Optional[float] = Field(None, gt=0, description="score scale; default 1/sqrt(head dim)")


def _sdpa_infer(ctx: InferContext, a: SdpaAttrs, ins: Sequence[TensorType]) -> TensorType:
    op = "sdpa"
    q, k, v = ins[:3]
    for i, t in enumerate((q, k, v)):
        if t.rank < 2:
            raise rank_error(op, "q, k, v of rank >= 2 [..., T, head_dim]", t, i)
        require_float(op, t, i)
        if t.rank != q.rank:
            e = rank_error(op, f"q, k, v of the same rank as q (rank {q.rank})", t, i)
            e.input_index = i
            raise e
    same_dtype(op, ins[:3])
    for i, t in ((1, k), (2, v)):
        for j in range(q.rank - 2):
            if not equal(q.shape[j], t.shape[j]):
                ctx.require_equal(q.shape[j], t.shape[j], f"`sdpa` batch dim {j} of q and input {i}", inputs=(0, i))
    if not equal(q.shape[-1], k.shape[-1]):
        ctx.require_equal(q.shape[-1], k.shape[-1], "`sdpa` head dim (last) of q and k", inputs=(0, 1))
    if not equal(k.shape[-2], v.shape[-2]):
        ctx.require_equal(k.shape[-2], v.shape[-2], "`sdpa` key length of k and v", inputs=(1, 2))
    if len(ins) == 4:
        m = ins[3]
        if m.dtype not in FLOAT_DTYPES and m.dtype != "bool":
            raise ShapeError("ARC202", f"`sdpa` mask must be bool (True = attend) or float (additive), got {m.dtype}",
                             input_index=3)
        _check_full_mask(ctx, op, m, q.shape[:-2] + (q.shape[-2], k.shape[-2]), 3)
    return q.with_shape(q.shape[:-1] + (v.shape[-1],))


def _sdpa_lower(a: SdpaAttrs, ins: Sequence[TensorType], out: TensorType):
    from archc.ops._seqmodules import sdpa

    return Call(sdpa, kwargs={"causal": a.causal, "scale": a.scale})


def _sdpa_cost(node, ins, env) -> Cost:
    """q [.., T, E], k [.., S, E], v [.., S, Ev]: MACs batch * T * S * (E + Ev); FLOPs 2 * MACs + per
    pair scale 1, softmax 5, a mask 1; causal also over the allowed pairs only."""
    q, k, v = (sizes(t, env) for t in ins[:3])
    batch = prod(q[:-2])
    T, E, S, Ev = q[-2], q[-1], k[-2], v[-1]
    per_pair = 1 + SOFTMAX + (1 if len(ins) == 4 else 0)

    def total(pairs: int) -> tuple[int, int]:
        macs = batch * pairs * (E + Ev)
        return macs, 2 * macs + batch * pairs * per_pair

    macs, flops = total(T * S)
    mc, fc = total(causal_pairs(T, S)) if node.attrs.causal else (None, None)
    return Cost(macs, flops, mc, fc)


register(
    "sdpa",
    attrs=SdpaAttrs,
    infer=_sdpa_infer,
    lower=_sdpa_lower,
    cost=_sdpa_cost,
    family="attention",
    arity=(3, 4),
    # no weights of its own, but a layer of depth like attention. ONNX: onnxscript's torch_lib
    # `aten_scaled_dot_product_attention` asserts "only 4D query, key, and value are supported"
    # (measured with torch 2.14 / onnxscript 0.7 on 3-D and 5-D inputs, at opset 18 and 23)
    traits=Traits(weighted=True, attention="core", onnx=(OnnxLimit(
        None, "torch's ONNX exporter translates `sdpa` only on 4-D q, k, v ([B, heads, T, head_dim])",
        "reshape the leading dims into one batch and one heads dim before sdpa (and back after), "
        "or leave onnx out of --emit", inputs=lambda ins: any(t.rank != 4 for t in ins[:3])),)),
    doc="Bare scaled dot-product attention softmax(q k^T * scale [+ mask]) v over heads the spec "
    "built itself (linear, unflatten, transpose). Optional 4th input: a bool (True = attend) or "
    "float additive mask broadcastable to [..., T, S]; `causal` is combined with it. No dropout. "
    "ONNX export takes only 4-D q, k, v ([B, heads, T, head_dim]; lint ARC501 flags other ranks).",
    shape_doc="q [..., T, E], k [..., S, E], v [..., S, Ev] (same leading dims) -> [..., T, Ev].",
    lowers_to="archc.ops._seqmodules.sdpa (torch.nn.functional.scaled_dot_product_attention)",
    example="{op: sdpa, causal: true}",
    example_inputs=[(2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6)],
)
