"""op: max_pool1d/2d/3d, avg_pool1d/2d/3d, adaptive_avg_pool1d/2d/3d, adaptive_max_pool1d/2d/3d."""
from __future__ import annotations

from math import prod
from typing import Optional, Sequence, Union

from pydantic import Field

from archc.ir.dims import Dim, dim_str, floordiv
from archc.ir.types import ShapeError, TensorType
from archc.ops._cost import Cost, ntuple, numel
from archc.ops._registry import Attrs, InferContext, rank_error, register
from archc.ops.tensor import require_float

IntOrTuple = Union[int, list[int]]


def _tuple(v: IntOrTuple, n: int, what: str, op: str) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    if len(v) != n:
        raise ShapeError("ARC204", f"`{op}` `{what}` needs {n} values, got {len(v)}")
    return tuple(v)


class MaxPoolAttrs(Attrs):
    kernel: IntOrTuple = Field(description="window size, one int or one per spatial dim")
    stride: Optional[IntOrTuple] = Field(None, description="defaults to the kernel size")
    padding: IntOrTuple = 0
    dilation: IntOrTuple = 1
    ceil_mode: bool = False


class AvgPoolAttrs(Attrs):
    kernel: IntOrTuple = Field(description="window size, one int or one per spatial dim")
    stride: Optional[IntOrTuple] = Field(None, description="defaults to the kernel size")
    padding: IntOrTuple = 0
    ceil_mode: bool = False
    count_include_pad: bool = True


class AdaptivePoolAttrs(Attrs):
    output_size: Union[int, list[Optional[int]]] = Field(
        description="output spatial size, one int or one per spatial dim (null keeps the input's size)"
    )


def pool_out_size(L: Dim, k: int, s: int, p: int, d: int, ceil_mode: bool) -> Dim:
    """torch's pooling output size (`pooling_output_shape`), exact for symbolic `L`.

    floor mode: (L + 2p - d(k-1) - 1)//s + 1. ceil mode: ceil((L + 2p - d(k-1) - 1)/s) + 1, minus one
    when the last window would start at or after L + p (inside the right padding). Counting window
    starts i*s that satisfy both i*s <= L + 2p - eff + s - 1 and i*s <= L + p - 1 gives the
    closed form floor((L + p - 1 + min(p - eff + s, 0)) / s) + 1, exact because p < eff.
    """
    eff = d * (k - 1) + 1
    if not ceil_mode:
        return floordiv(L + 2 * p - eff, s) + 1
    return floordiv(L + (p - 1 + min(p - eff + s, 0)), s) + 1


def _pool_params(op: str, nd: int, a, has_dilation: bool):
    k = _tuple(a.kernel, nd, "kernel", op)
    s = k if a.stride is None else _tuple(a.stride, nd, "stride", op)
    p = _tuple(a.padding, nd, "padding", op)
    d = _tuple(a.dilation, nd, "dilation", op) if has_dilation else (1,) * nd
    for what, vals, lo in (("kernel", k, 1), ("stride", s, 1), ("dilation", d, 1), ("padding", p, 0)):
        if any(v < lo for v in vals):
            raise ShapeError("ARC204", f"`{op}` {what} must be >= {lo}, got {list(vals)}")
    for i in range(nd):
        if p[i] > k[i] // 2:
            raise ShapeError(
                "ARC204",
                f"`{op}` padding {p[i]} is more than half the kernel size {k[i]}",
                hint="torch requires padding <= kernel // 2",
            )
    return k, s, p, d


def _check_rank(op: str, nd: int, x: TensorType) -> None:
    if x.rank not in (nd + 1, nd + 2):
        spatial = {1: "L", 2: "H, W", 3: "D, H, W"}[nd]
        raise rank_error(op, f"a rank-{nd + 2} input [B, C, {spatial}] (or rank {nd + 1} without batch)", x)


def _window_infer(op: str, nd: int, has_dilation: bool):
    def infer(ctx: InferContext, a, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        _check_rank(op, nd, x)
        require_float(op, x)
        k, s, p, d = _pool_params(op, nd, a, has_dilation)
        lead = x.shape[: x.rank - nd]
        spatial = []
        for i in range(nd):
            L = x.shape[x.rank - nd + i]
            o = pool_out_size(L, k[i], s[i], p[i], d[i], a.ceil_mode)
            if isinstance(o, int) and o < 1:
                raise ShapeError(
                    "ARC206",
                    f"`{op}` output size would be {o} for input size {dim_str(L)} "
                    f"(kernel {k[i]}, stride {s[i]}, padding {p[i]}, dilation {d[i]})",
                    input_index=0,
                )
            spatial.append(o)
        return x.with_shape(lead + tuple(spatial))

    return infer


def _max_lower(op: str, nd: int):
    def lower(a: MaxPoolAttrs, ins: Sequence[TensorType], out: TensorType):
        import torch.nn as nn

        k, s, p, d = _pool_params(op, nd, a, True)
        cls = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[nd]
        return cls(k, stride=s, padding=p, dilation=d, ceil_mode=a.ceil_mode)

    return lower


def _avg_lower(op: str, nd: int):
    def lower(a: AvgPoolAttrs, ins: Sequence[TensorType], out: TensorType):
        import torch.nn as nn

        k, s, p, _ = _pool_params(op, nd, a, False)
        cls = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}[nd]
        return cls(k, stride=s, padding=p, ceil_mode=a.ceil_mode, count_include_pad=a.count_include_pad)

    return lower


def _adaptive_sizes(op: str, nd: int, a: AdaptivePoolAttrs) -> tuple[Optional[int], ...]:
    sizes = (a.output_size,) * nd if isinstance(a.output_size, int) else tuple(a.output_size)
    if len(sizes) != nd:
        raise ShapeError("ARC204", f"`{op}` output_size needs {nd} values, got {len(sizes)}")
    if nd == 1 and sizes[0] is None:
        raise ShapeError("ARC204", f"`{op}` output_size must be a number")
    if any(v is not None and v < 1 for v in sizes):
        raise ShapeError("ARC204", f"`{op}` output_size must be >= 1, got {list(sizes)}")
    return sizes


def _adaptive_infer(op: str, nd: int):
    def infer(ctx: InferContext, a: AdaptivePoolAttrs, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        _check_rank(op, nd, x)
        require_float(op, x)
        sizes = _adaptive_sizes(op, nd, a)
        lead = x.shape[: x.rank - nd]
        spatial = tuple(x.shape[x.rank - nd + i] if v is None else v for i, v in enumerate(sizes))
        return x.with_shape(lead + spatial)

    return infer


def _adaptive_lower(op: str, nd: int, kind: str):
    def lower(a: AdaptivePoolAttrs, ins: Sequence[TensorType], out: TensorType):
        import torch.nn as nn

        cls = getattr(nn, f"Adaptive{kind}Pool{nd}d")
        sizes = _adaptive_sizes(op, nd, a)
        return cls(sizes[0] if nd == 1 else sizes)

    return lower


def _window_cost(nd: int, per_window: int):
    """max pool: prod(kernel) - 1 comparisons, avg pool: prod(kernel) adds and a divide, per output element."""

    def cost(node, ins, env) -> Cost:
        return Cost(0, (prod(ntuple(node.attrs.kernel, nd)) + per_window) * numel(node.out, env))

    return cost


def _adaptive_avg_cost(node, ins, env) -> Cost:
    """in_elems adds + out_elems divides (exact when the windows do not overlap)."""
    return Cost(0, numel(ins[0], env) + numel(node.out, env))


def _adaptive_max_cost(node, ins, env) -> Cost:
    """in_elems - out_elems comparisons (exact when the windows do not overlap)."""
    return Cost(0, max(0, numel(ins[0], env) - numel(node.out, env)))


_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}
_FORMULA = (
    "floor((L + 2*padding - dilation*(kernel-1) - 1) / stride) + 1 (ceil with ceil_mode, where the last "
    "window must start inside the input or the left padding, as in torch); stride defaults to kernel"
)
for _nd in (1, 2, 3):
    _ex_in = [(2, 3) + (9, 8, 7)[:_nd]]
    register(
        f"max_pool{_nd}d",
        attrs=MaxPoolAttrs,
        infer=_window_infer(f"max_pool{_nd}d", _nd, True),
        lower=_max_lower(f"max_pool{_nd}d", _nd),
        cost=_window_cost(_nd, -1),
        family="pool",
        doc=f"{_nd}-d max pooling.",
        shape_doc=f"[B, C, {_SPATIAL[_nd]}] -> [B, C, ...] with each spatial size {_FORMULA}.",
        lowers_to=f"torch.nn.MaxPool{_nd}d",
        example=f"{{op: max_pool{_nd}d, kernel: 3, stride: 2, padding: 1, ceil_mode: true}}",
        example_inputs=_ex_in,
    )
    register(
        f"avg_pool{_nd}d",
        attrs=AvgPoolAttrs,
        infer=_window_infer(f"avg_pool{_nd}d", _nd, False),
        lower=_avg_lower(f"avg_pool{_nd}d", _nd),
        cost=_window_cost(_nd, 0),
        family="pool",
        doc=f"{_nd}-d average pooling.",
        shape_doc=f"[B, C, {_SPATIAL[_nd]}] -> [B, C, ...] with each spatial size {_FORMULA} (dilation 1).",
        lowers_to=f"torch.nn.AvgPool{_nd}d",
        example=f"{{op: avg_pool{_nd}d, kernel: 2}}",
        example_inputs=_ex_in,
    )
    for _kind in ("avg", "max"):
        _cls = "Avg" if _kind == "avg" else "Max"
        register(
            f"adaptive_{_kind}_pool{_nd}d",
            attrs=AdaptivePoolAttrs,
            infer=_adaptive_infer(f"adaptive_{_kind}_pool{_nd}d", _nd),
            lower=_adaptive_lower(f"adaptive_{_kind}_pool{_nd}d", _nd, _cls),
            cost=_adaptive_avg_cost if _kind == "avg" else _adaptive_max_cost,
            family="pool",
            doc=f"{_nd}-d adaptive {_kind} pooling to a fixed output size (1 = global pooling).",
            shape_doc=f"[B, C, {_SPATIAL[_nd]}] -> [B, C, *output_size]; a null entry keeps that input size.",
            lowers_to=f"torch.nn.Adaptive{_cls}Pool{_nd}d",
            example=f"{{op: adaptive_{_kind}_pool{_nd}d, output_size: {1 if _nd != 2 else '[2, 3]'}}}",
            example_inputs=_ex_in,
        )
