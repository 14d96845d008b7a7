"""Torch modules and functions for the sequence ops (embeddings, attention, recurrent, indexing).

Imported only inside lowerings. Everything here is importable by its qualified name, so a
GraphModule that calls these functions can be regenerated, pickled and exported. Sizes that depend
on the input (T, S, B) are read from the tensors at run time, so they stay dynamic for export.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------------------------


class LearnedPositionalEmbedding(nn.Embedding):
    """A table of `max_len` learned position vectors (state_dict key `weight`, like GPT-2's `wpe`).

    The forward takes the token tensor ([B, T] ids or [B, T, D] features) only for its length T and
    device, and returns the embeddings of positions offset..offset+T-1 as [1, T, dim].
    """

    def __init__(self, max_len: int, dim: int, offset: int = 0):
        super().__init__(max_len, dim)
        self.offset = int(offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        pos = torch.arange(self.offset, self.offset + x.shape[1], device=x.device)
        return F.embedding(pos, self.weight).unsqueeze(0)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", offset={self.offset}"


def sinusoidal_table(n: int, dim: int, offset: int = 0, dtype: torch.dtype = torch.float32,
                     device: Optional[torch.device] = None) -> torch.Tensor:
    """The Vaswani et al. table [n, dim]: PE[p, 2i] = sin(p / 10000^(2i/dim)),
    PE[p, 2i+1] = cos(p / 10000^(2i/dim)), for positions p = offset..offset+n-1."""
    pos = torch.arange(offset, offset + n, device=device, dtype=torch.float32).unsqueeze(1)
    i2 = torch.arange(0, dim, 2, device=device, dtype=torch.float32)
    freq = torch.exp(i2 * (-math.log(10000.0) / dim))
    ang = pos * freq  # [n, ceil(dim/2)]
    pe = torch.stack([torch.sin(ang), torch.cos(ang)], dim=-1).flatten(1)[:, :dim]
    return pe.to(dtype)


class SinusoidalPositionalEmbedding(nn.Module):
    """Fixed sine/cosine position encodings, computed at run time (no parameters, no buffers)."""

    def __init__(self, max_len: int, dim: int, offset: int = 0):
        super().__init__()
        self.max_len, self.dim, self.offset = int(max_len), int(dim), int(offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype if x.is_floating_point() else torch.float32
        return sinusoidal_table(x.shape[1], self.dim, self.offset, dtype, x.device).unsqueeze(0)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, dim={self.dim}, offset={self.offset}"


class PatchEmbedding(nn.Module):
    """[B, C, H, W] -> [B, (H//p)*(W//p), dim]: a Conv2d with kernel = stride = p (`proj`, timm's
    key), flattened over the patch grid and transposed to tokens."""

    def __init__(self, in_channels: int, dim: int, patch: int, bias: bool = True):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch, stride=patch, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


def prepend_token(x: torch.Tensor, token: torch.Tensor) -> torch.Tensor:
    """[B, N, D] -> [B, N+1, D] with the learned [1, 1, D] `token` first (torchvision ViT)."""
    return torch.cat([token.expand(x.shape[0], -1, -1), x], dim=1)


# ---------------------------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------------------------


def _attn_mask(q: torch.Tensor, k: torch.Tensor, mask: Optional[torch.Tensor], causal: bool,
               padding: bool) -> Optional[torch.Tensor]:
    """The `attn_mask` for SDPA: bool (True = attend) or additive float in q's dtype.

    `padding`: `mask` is a [B, S] padding mask (bool or integer, nonzero = attend), spread to
    [B, 1, 1, S]. `causal` is combined into it (query t attends keys s <= t, top-left aligned as
    SDPA's is_causal)."""
    if mask is not None:
        if padding:
            mask = mask.bool()[:, None, None, :]
        elif mask.dtype != torch.bool:
            mask = mask.to(q.dtype)
    if not causal:
        return mask
    T, S = q.shape[-2], k.shape[-2]
    tri = torch.ones(T, S, dtype=torch.bool, device=q.device).tril()
    if mask is None:
        return tri
    if mask.dtype == torch.bool:
        return mask & tri
    return mask.masked_fill(~tri, float("-inf"))


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Optional[torch.Tensor] = None, *,
         causal: bool = False, scale: Optional[float] = None) -> torch.Tensor:
    """scaled_dot_product_attention over [..., T, hd] / [..., S, hd] / [..., S, hv]; `mask` is bool
    (True = attend) or additive float, broadcastable to [..., T, S]; `causal` may be combined with it."""
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=_attn_mask(q, k, mask, causal, False), scale=scale)


def parent_module(root: nn.Module, path: str) -> tuple[nn.Module, str]:
    """The module that holds `path` (its containers created as plain Modules) and the last name."""
    parts = path.split(".")
    cur = root
    for p in parts[:-1]:
        nxt = cur._modules.get(p)
        if nxt is None:
            nxt = nn.Module()
            cur.add_module(p, nxt)
        cur = nxt
    return cur, parts[-1]


def _set_path(root: nn.Module, path: str, module: nn.Module) -> None:
    parent, name = parent_module(root, path)
    parent.add_module(name, module)


class Attention(nn.Module):
    """Multi-head attention over batch-first tensors, computed by scaled_dot_product_attention.

    layout "archc": Linear projections named by `names` (keys qkv or q/k/v, and out), which may be
    dotted paths (BERT's `self.query`). layout "torch": exactly nn.MultiheadAttention's parameters
    (`in_proj_weight` [3D, D] or q/k/v_proj_weight when the memory's features differ, `in_proj_bias`,
    and the `out_proj` Linear), so its weights load directly.

    forward(x[, memory][, mask]): x [B, T, D], memory [B, S, Dm]; mask is a [B, S] padding mask
    (`padding=True`; bool or integer, True/nonzero = attend) or a bool/float mask broadcastable to
    [B, heads, T, S] (bool: True = attend; float: added to the scores).
    """

    def __init__(self, dim: int, heads: int, kdim: Optional[int] = None, *, cross: bool = False,
                 has_mask: bool = False, padding: bool = False, causal: bool = False, packed: bool = True,
                 bias: bool = True, out_proj: bool = True, dropout: float = 0.0, layout: str = "archc",
                 names: Optional[dict] = None):
        super().__init__()
        kdim = dim if kdim is None else kdim
        self.dim, self.heads, self.kdim = dim, heads, kdim
        self.cross, self.has_mask, self.padding = cross, has_mask, padding
        self.causal, self.packed, self.use_out, self.dropout, self.layout = causal, packed, out_proj, float(dropout), layout
        names = dict(names or {})
        self.names = {k: names.get(k, k) for k in ("qkv", "q", "k", "v", "out")}
        if layout == "torch":
            self.names["out"] = "out_proj"
            self.same_dim = kdim == dim
            if self.same_dim:
                self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
            else:
                self.q_proj_weight = nn.Parameter(torch.empty(dim, dim))
                self.k_proj_weight = nn.Parameter(torch.empty(dim, kdim))
                self.v_proj_weight = nn.Parameter(torch.empty(dim, kdim))
            self.in_proj_bias = nn.Parameter(torch.empty(3 * dim)) if bias else None
            self.out_proj = nn.Linear(dim, dim, bias=bias)
            # nn.MultiheadAttention._reset_parameters
            if self.same_dim:
                nn.init.xavier_uniform_(self.in_proj_weight)
            else:
                for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                    nn.init.xavier_uniform_(w)
            if bias:
                nn.init.zeros_(self.in_proj_bias)
                nn.init.zeros_(self.out_proj.bias)
        else:
            if packed:
                _set_path(self, self.names["qkv"], nn.Linear(dim, 3 * dim, bias=bias))
            else:
                _set_path(self, self.names["q"], nn.Linear(dim, dim, bias=bias))
                _set_path(self, self.names["k"], nn.Linear(kdim, dim, bias=bias))
                _set_path(self, self.names["v"], nn.Linear(kdim, dim, bias=bias))
            if out_proj:
                _set_path(self, self.names["out"], nn.Linear(dim, dim, bias=bias))

    def _project(self, x: torch.Tensor, mem: torch.Tensor):
        if self.layout == "torch":
            b = self.in_proj_bias
            bq, bk, bv = b.chunk(3) if b is not None else (None, None, None)
            if self.same_dim:
                if not self.cross:
                    return F.linear(x, self.in_proj_weight, b).chunk(3, dim=-1)
                wq, wk, wv = self.in_proj_weight.chunk(3)
            else:
                wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
            return F.linear(x, wq, bq), F.linear(mem, wk, bk), F.linear(mem, wv, bv)
        if self.packed:
            return self.get_submodule(self.names["qkv"])(x).chunk(3, dim=-1)
        return (self.get_submodule(self.names["q"])(x), self.get_submodule(self.names["k"])(mem),
                self.get_submodule(self.names["v"])(mem))

    def forward(self, x: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        mem = rest[0] if self.cross else x
        mask = rest[-1] if self.has_mask else None
        q, k, v = self._project(x, mem)
        h = self.heads
        q, k, v = (t.unflatten(-1, (h, -1)).transpose(1, 2) for t in (q, k, v))  # [B, h, T|S, hd]
        p = self.dropout if self.training else 0.0
        if mask is None:
            o = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=self.causal)
        else:
            m = _attn_mask(q, k, mask, self.causal, self.padding)
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=m, dropout_p=p)
        o = o.transpose(1, 2).flatten(2)  # [B, T, D]
        if self.use_out:
            o = self.get_submodule(self.names["out"])(o)
        return o

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, heads={self.heads}, kdim={self.kdim}, causal={self.causal}, "
                f"layout={self.layout!r}, dropout={self.dropout}")


# ---------------------------------------------------------------------------------------------
# Recurrent
# ---------------------------------------------------------------------------------------------


class LSTM(nn.LSTM):
    """nn.LSTM (same parameter names) whose forward returns the flat tuple (output, h_n, c_n)."""

    def forward(self, x: torch.Tensor):  # type: ignore[override]
        out, (h, c) = super().forward(x)
        return out, h, c


class RNN(nn.RNN):
    """nn.RNN (same parameter names) whose forward takes only the input: (output, h_n)."""

    def forward(self, x: torch.Tensor):  # type: ignore[override]
        return super().forward(x)


class GRU(nn.GRU):
    """nn.GRU (same parameter names) whose forward takes only the input: (output, h_n)."""

    def forward(self, x: torch.Tensor):  # type: ignore[override]
        return super().forward(x)


# ---------------------------------------------------------------------------------------------
# Indexing
# ---------------------------------------------------------------------------------------------


def slice_dim(x: torch.Tensor, dim: int, start: int = 0, end: Optional[int] = None, step: int = 1) -> torch.Tensor:
    """x[..., start:end:step, ...] along `dim` (Python slice semantics, step > 0)."""
    idx: Sequence = (slice(None),) * dim + (slice(start, end, step),)
    return x[tuple(idx)]
