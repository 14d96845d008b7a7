"""op: conv1d/2d/3d and conv_transpose1d/2d: convolutions with groups, dilation and padding modes."""
from __future__ import annotations

from math import prod
from typing import Annotated, Literal, Sequence, Union

from pydantic import Field

from archc.ir.dims import Dim, floordiv
from archc.ir.types import ShapeError, TensorType
from archc.ops._cost import Cost, ntuple, numel, size
from archc.ops._registry import Attrs, InferContext, OnnxLimit, Traits, rank_error, register

_Pos = Annotated[int, Field(ge=1)]
_NonNeg = Annotated[int, Field(ge=0)]
IntOrTuple = Union[_Pos, list[_Pos]]          # kernel, stride, dilation: >= 1
NonNegOrTuple = Union[_NonNeg, list[_NonNeg]]  # padding, output_padding: >= 0


def _tuple(v: IntOrTuple, n: int, what: str) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    if len(v) != n:
        raise ShapeError("ARC204", f"`{what}` needs {n} values, got {len(v)}")
    return tuple(v)


class ConvAttrs(Attrs):
    out: int = Field(gt=0, description="output channels")
    kernel: IntOrTuple = Field(description="kernel size, one int or one per spatial dim")
    stride: IntOrTuple = 1
    padding: Union[_NonNeg, list[_NonNeg], Literal["same", "valid"]] = 0
    dilation: IntOrTuple = 1
    groups: int = Field(1, gt=0)
    bias: bool = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"


class ConvTransposeAttrs(Attrs):
    out: int = Field(gt=0, description="output channels")
    kernel: IntOrTuple
    stride: IntOrTuple = 1
    padding: NonNegOrTuple = 0
    output_padding: NonNegOrTuple = 0
    dilation: IntOrTuple = 1
    groups: int = Field(1, gt=0)
    bias: bool = True


def _check_channels(op: str, a, cin: int) -> None:
    if not isinstance(cin, int):
        raise ShapeError("ARC204", f"`{op}` needs a fixed channel count, got `{cin}`", input_index=0)
    for what, n in (("input", cin), ("output", a.out)):
        if n % a.groups:
            raise ShapeError(
                "ARC204",
                f"`{op}` {what} channels {n} are not divisible by groups={a.groups}",
                hint="channels on both sides must be multiples of `groups`",
            )


def _conv_infer(nd: int):
    name = f"conv{nd}d"

    def infer(ctx: InferContext, a: ConvAttrs, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        if x.rank != nd + 2:
            raise rank_error(name, f"a rank-{nd + 2} input [B, C, {'spatial dims' if nd > 1 else 'L'}]", x)
        cin = x.shape[1]
        _check_channels(name, a, cin)
        k, s, d = (_tuple(v, nd, f) for v, f in ((a.kernel, "kernel"), (a.stride, "stride"), (a.dilation, "dilation")))
        spatial: list[Dim] = []
        for i in range(nd):
            L = x.shape[2 + i]
            if a.padding == "same":
                if s[i] != 1:
                    raise ShapeError("ARC204", f"`{name}` with padding 'same' needs stride 1, got stride {s[i]}")
                spatial.append(L)
                continue
            p = 0 if a.padding == "valid" else _tuple(a.padding, nd, "padding")[i]
            spatial.append(floordiv(L + 2 * p - d[i] * (k[i] - 1) - 1, s[i]) + 1)
        return x.with_shape((x.shape[0], a.out, *spatial))

    return infer


def _conv_params(nd: int):
    def params(a: ConvAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
        k = _tuple(a.kernel, nd, "kernel")
        p = {"weight": (a.out, ins[0].shape[1] // a.groups, *k)}
        if a.bias:
            p["bias"] = (a.out,)
        return p

    return params


def _conv_lower(nd: int):
    def lower(a: ConvAttrs, ins: Sequence[TensorType], out: TensorType):
        import torch.nn as nn

        cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[nd]
        padding = a.padding if isinstance(a.padding, str) else (a.padding if isinstance(a.padding, int) else tuple(a.padding))
        return cls(
            ins[0].shape[1], a.out, _tuple(a.kernel, nd, "kernel"), stride=_tuple(a.stride, nd, "stride"),
            padding=padding, dilation=_tuple(a.dilation, nd, "dilation"), groups=a.groups, bias=a.bias,
            padding_mode=a.padding_mode,
        )

    return lower


def _convt_infer(nd: int):
    name = f"conv_transpose{nd}d"

    def infer(ctx: InferContext, a: ConvTransposeAttrs, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        if x.rank != nd + 2:
            raise rank_error(name, f"a rank-{nd + 2} input", x)
        _check_channels(name, a, x.shape[1])
        k, s, p, op, d = (
            _tuple(v, nd, f)
            for v, f in ((a.kernel, "kernel"), (a.stride, "stride"), (a.padding, "padding"),
                         (a.output_padding, "output_padding"), (a.dilation, "dilation"))
        )
        for i in range(nd):
            if op[i] >= max(s[i], d[i]):
                raise ShapeError("ARC204", f"`{name}` output_padding {op[i]} must be smaller than stride or dilation")
        spatial = [(x.shape[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i in range(nd)]
        return x.with_shape((x.shape[0], a.out, *spatial))

    return infer


def _convt_params(nd: int):
    def params(a: ConvTransposeAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
        k = _tuple(a.kernel, nd, "kernel")
        p = {"weight": (ins[0].shape[1], a.out // a.groups, *k)}
        if a.bias:
            p["bias"] = (a.out,)
        return p

    return params


def _convt_lower(nd: int):
    def lower(a: ConvTransposeAttrs, ins: Sequence[TensorType], out: TensorType):
        import torch.nn as nn

        cls = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[nd]
        return cls(
            ins[0].shape[1], a.out, _tuple(a.kernel, nd, "kernel"), stride=_tuple(a.stride, nd, "stride"),
            padding=_tuple(a.padding, nd, "padding"), output_padding=_tuple(a.output_padding, nd, "output_padding"),
            groups=a.groups, bias=a.bias, dilation=_tuple(a.dilation, nd, "dilation"),
        )

    return lower


def _conv_cost(nd: int):
    """MACs out_elems * (C_in / groups) * prod(kernel) (stride and dilation enter through out_elems);
    FLOPs 2 * MACs + 1 per output element for the bias."""

    def cost(node, ins, env) -> Cost:
        a = node.attrs
        out = numel(node.out, env)
        macs = out * (size(ins[0].shape[1], env) // a.groups) * prod(ntuple(a.kernel, nd))
        return Cost(macs, 2 * macs + (out if a.bias else 0))

    return cost


def _convt_cost(nd: int):
    """MACs in_elems * (C_out / groups) * prod(kernel); FLOPs 2 * MACs + the bias per output element."""

    def cost(node, ins, env) -> Cost:
        a = node.attrs
        macs = numel(ins[0], env) * (a.out // a.groups) * prod(ntuple(a.kernel, nd))
        out = numel(node.out, env)
        return Cost(macs, 2 * macs + (out if a.bias else 0))

    return cost


_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}
# torch's (dynamo) ONNX exporter lowers circular padding to `Pad(mode="wrap")`, which exists from
# Pad-19; at opset <= 18 the model is invalid.
_CIRCULAR = OnnxLimit(
    19, "circular padding is ONNX `Pad` mode `wrap`, which needs opset 19",
    "export with --opset 19 or later, or use `padding_mode: reflect` / `replicate`",
    attr="padding_mode", applies=lambda a: getattr(a, "padding_mode", "zeros") == "circular")
for _nd in (1, 2, 3):
    register(
        f"conv{_nd}d",
        attrs=ConvAttrs,
        infer=_conv_infer(_nd),
        params=_conv_params(_nd),
        lower=_conv_lower(_nd),
        cost=_conv_cost(_nd),
        family="conv",
        doc=f"{_nd}-d convolution; input channels are inferred from the input.",
        shape_doc=f"[B, C, {_SPATIAL[_nd]}] -> [B, out, ...] with each spatial size "
        "floor((L + 2*padding - dilation*(kernel-1) - 1) / stride) + 1; 'same' keeps it (stride 1).",
        lowers_to=f"torch.nn.Conv{_nd}d",
        traits=Traits(weighted=True, width="out", bias="bias", positional=_nd == 1, overwritable=True, init=True,
                      onnx=(_CIRCULAR,)),
        example=f"{{op: conv{_nd}d, out: 16, kernel: 3, padding: 1, bias: false}}",
        example_inputs=[(2, 8) + (10,) * _nd],
    )
for _nd in (1, 2, 3):
    register(
        f"conv_transpose{_nd}d",
        attrs=ConvTransposeAttrs,
        infer=_convt_infer(_nd),
        params=_convt_params(_nd),
        lower=_convt_lower(_nd),
        cost=_convt_cost(_nd),
        family="conv",
        doc=f"{_nd}-d transposed convolution (learned upsampling).",
        shape_doc="each spatial size (L - 1)*stride - 2*padding + dilation*(kernel-1) + output_padding + 1.",
        lowers_to=f"torch.nn.ConvTranspose{_nd}d",
        traits=Traits(weighted=True, width="out", bias="bias", overwritable=True, init=True),
        example=f"{{op: conv_transpose{_nd}d, out: 16, kernel: 2, stride: 2}}",
        example_inputs=[(2, 8) + (5,) * _nd],
    )
