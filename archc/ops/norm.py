"""op: batch_norm, layer_norm, group_norm, instance_norm, rms_norm. Feature sizes are inferred."""
from __future__ import annotations

from typing import Optional, Sequence

from pydantic import Field

from archc.ir.types import ShapeError, TensorType
from archc.ops._cost import Cost, numel
from archc.ops._registry import Attrs, InferContext, OnnxLimit, Traits, rank_error, register
from archc.ops.tensor import require_float, static_dim

_ND = {2: 1, 3: 1, 4: 2, 5: 3}


def _channels(op: str, x: TensorType) -> int:
    return static_dim(op, x.shape[1], "channel count (dim 1)")


# ---------------------------------------------------------------------------------------------
# batch_norm, instance_norm
# ---------------------------------------------------------------------------------------------


class BatchNormAttrs(Attrs):
    eps: float = Field(1e-5, gt=0)
    momentum: Optional[float] = Field(0.1, ge=0, le=1, description="null: cumulative moving average")
    affine: bool = True
    track_running_stats: bool = True


class InstanceNormAttrs(Attrs):
    eps: float = Field(1e-5, gt=0)
    momentum: Optional[float] = Field(0.1, ge=0, le=1)
    affine: bool = False
    track_running_stats: bool = False


def _stat_norm_infer(op: str, ranks: tuple[int, ...], expected: str):
    def infer(ctx: InferContext, a, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        if x.rank not in ranks:
            raise rank_error(op, expected, x)
        require_float(op, x)
        _channels(op, x)
        return x

    return infer


def _stat_params(op: str):
    def params(a, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
        c = _channels(op, ins[0])
        return {"weight": (c,), "bias": (c,)} if a.affine else {}

    return params


def _stat_buffers(op: str):
    def buffers(a, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
        c = _channels(op, ins[0])
        if not a.track_running_stats:
            return {}
        return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}

    return buffers


def _batch_norm_lower(a: BatchNormAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch.nn as nn

    cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[_ND[ins[0].rank]]
    return cls(_channels("batch_norm", ins[0]), eps=a.eps, momentum=a.momentum, affine=a.affine,
               track_running_stats=a.track_running_stats)


def _instance_norm_lower(a: InstanceNormAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch.nn as nn

    cls = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}[_ND[ins[0].rank]]
    return cls(_channels("instance_norm", ins[0]), eps=a.eps, momentum=a.momentum, affine=a.affine,
               track_running_stats=a.track_running_stats)


# FLOPs per element of the input. batch_norm 2: in eval mode its scale and shift fold into one
# multiply-add; the others 5 (mean, subtract, square, sum, normalise) + 1 per affine weight and
# bias; rms_norm 3 (square, mean, normalise) + 1 for the weight.
def _bn_cost(node, ins, env) -> Cost:
    return Cost(0, 2 * numel(ins[0], env))


def _ln_cost(node, ins, env) -> Cost:
    a = node.attrs
    per = 5 + ((1 + (1 if a.bias else 0)) if a.elementwise_affine else 0)
    return Cost(0, per * numel(ins[0], env))


def _affine_cost(node, ins, env) -> Cost:  # group_norm, instance_norm
    return Cost(0, (5 + (2 if node.attrs.affine else 0)) * numel(ins[0], env))


def _rms_cost(node, ins, env) -> Cost:
    return Cost(0, (3 + (1 if node.attrs.elementwise_affine else 0)) * numel(ins[0], env))


register(
    "batch_norm",
    attrs=BatchNormAttrs,
    infer=_stat_norm_infer("batch_norm", (2, 3, 4, 5), "a rank-2 to rank-5 input [B, C, ...]"),
    params=_stat_params("batch_norm"),
    buffers=_stat_buffers("batch_norm"),
    lower=_batch_norm_lower,
    cost=_bn_cost,
    family="norm",
    doc="Batch normalisation over dim 1 (the channels, inferred from the input).",
    shape_doc="output = input; [B, C] or [B, C, L] -> BatchNorm1d, [B, C, H, W] -> 2d, [B, C, D, H, W] -> 3d; "
    "C must be static.",
    lowers_to="torch.nn.BatchNorm1d / BatchNorm2d / BatchNorm3d",
    traits=Traits(role="norm", batch_stats=True, overwritable=True),
    example="{op: batch_norm}",
    example_inputs=[(2, 3, 4, 5)],
)
register(
    "instance_norm",
    attrs=InstanceNormAttrs,
    infer=_stat_norm_infer("instance_norm", (3, 4, 5), "a rank-3 to rank-5 input [B, C, spatial...]"),
    params=_stat_params("instance_norm"),
    buffers=_stat_buffers("instance_norm"),
    lower=_instance_norm_lower,
    cost=_affine_cost,
    family="norm",
    doc="Instance normalisation: per sample and channel over the spatial dims.",
    shape_doc="output = input; rank 3/4/5 -> InstanceNorm1d/2d/3d; C (dim 1) must be static.",
    lowers_to="torch.nn.InstanceNorm1d / InstanceNorm2d / InstanceNorm3d",
    traits=Traits(role="norm", overwritable=True),
    example="{op: instance_norm, affine: true}",
    example_inputs=[(2, 3, 4, 5)],
)

# ---------------------------------------------------------------------------------------------
# layer_norm, rms_norm
# ---------------------------------------------------------------------------------------------


class LayerNormAttrs(Attrs):
    dims: int = Field(1, ge=1, description="normalise over the last `dims` dims")
    eps: float = Field(1e-5, gt=0)
    elementwise_affine: bool = True
    bias: bool = True


class RMSNormAttrs(Attrs):
    dims: int = Field(1, ge=1, description="normalise over the last `dims` dims")
    eps: Optional[float] = Field(None, gt=0, description="null: torch.finfo(dtype).eps")
    elementwise_affine: bool = True


def _normalized_shape(op: str, a, x: TensorType) -> tuple[int, ...]:
    if x.rank < a.dims:
        raise rank_error(op, f"an input of rank >= {a.dims} (dims={a.dims})", x)
    return tuple(
        static_dim(op, d, f"size of normalised dim {x.rank - a.dims + i}") for i, d in enumerate(x.shape[-a.dims:])
    )


def _last_dims_infer(op: str):
    def infer(ctx: InferContext, a, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        require_float(op, x)
        _normalized_shape(op, a, x)
        return x

    return infer


def _layer_norm_params(a: LayerNormAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    shape = _normalized_shape("layer_norm", a, ins[0])
    if not a.elementwise_affine:
        return {}
    return {"weight": shape, "bias": shape} if a.bias else {"weight": shape}


def _layer_norm_lower(a: LayerNormAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch.nn as nn

    return nn.LayerNorm(_normalized_shape("layer_norm", a, ins[0]), eps=a.eps,
                        elementwise_affine=a.elementwise_affine, bias=a.bias)


def _rms_norm_params(a: RMSNormAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    shape = _normalized_shape("rms_norm", a, ins[0])
    return {"weight": shape} if a.elementwise_affine else {}


def _rms_norm_lower(a: RMSNormAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch.nn as nn

    return nn.RMSNorm(_normalized_shape("rms_norm", a, ins[0]), eps=a.eps, elementwise_affine=a.elementwise_affine)


register(
    "layer_norm",
    attrs=LayerNormAttrs,
    infer=_last_dims_infer("layer_norm"),
    params=_layer_norm_params,
    lower=_layer_norm_lower,
    cost=_ln_cost,
    family="norm",
    doc="Layer normalisation over the last `dims` dims (their sizes are inferred and must be static).",
    shape_doc="output = input; weight and bias have the shape of the last `dims` dims.",
    lowers_to="torch.nn.LayerNorm",
    # torch's ONNX exporter emits `LayerNormalization`, introduced in opset 17
    traits=Traits(role="norm", overwritable=True, onnx=(OnnxLimit(17, "ONNX `LayerNormalization` needs opset 17",
                                                                  "export with --opset 17 or later"),)),
    example="{op: layer_norm}",
    example_inputs=[(2, 5, 8)],
)
register(
    "rms_norm",
    attrs=RMSNormAttrs,
    infer=_last_dims_infer("rms_norm"),
    params=_rms_norm_params,
    lower=_rms_norm_lower,
    cost=_rms_cost,
    family="norm",
    doc="RMS normalisation over the last `dims` dims (their sizes are inferred and must be static).",
    shape_doc="output = input; weight has the shape of the last `dims` dims.",
    lowers_to="torch.nn.RMSNorm",
    traits=Traits(role="norm"),
    example="{op: rms_norm, eps: 1.0e-6}",
    example_inputs=[(2, 5, 8)],
)

# ---------------------------------------------------------------------------------------------
# group_norm
# ---------------------------------------------------------------------------------------------


class GroupNormAttrs(Attrs):
    groups: int = Field(gt=0, description="number of channel groups; must divide the channels")
    eps: float = Field(1e-5, gt=0)
    affine: bool = True


def _group_channels(a: GroupNormAttrs, x: TensorType) -> int:
    c = _channels("group_norm", x)
    if c % a.groups:
        raise ShapeError(
            "ARC204",
            f"`group_norm` channels {c} are not divisible by groups={a.groups}",
            hint="the channel count (dim 1) must be a multiple of `groups`",
            input_index=0,
        )
    return c


def _group_norm_infer(ctx: InferContext, a: GroupNormAttrs, ins: Sequence[TensorType]) -> TensorType:
    x = ins[0]
    if x.rank < 2:
        raise rank_error("group_norm", "an input of rank >= 2 [B, C, ...]", x)
    require_float("group_norm", x)
    _group_channels(a, x)
    return x


def _group_norm_params(a: GroupNormAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
    c = _group_channels(a, ins[0])
    return {"weight": (c,), "bias": (c,)} if a.affine else {}


def _group_norm_lower(a: GroupNormAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch.nn as nn

    return nn.GroupNorm(a.groups, _group_channels(a, ins[0]), eps=a.eps, affine=a.affine)


register(
    "group_norm",
    attrs=GroupNormAttrs,
    infer=_group_norm_infer,
    params=_group_norm_params,
    lower=_group_norm_lower,
    cost=_affine_cost,
    family="norm",
    doc="Group normalisation: channels (dim 1) split into `groups`, normalised per sample and group.",
    shape_doc="output = input; C (dim 1) must be static and divisible by groups.",
    lowers_to="torch.nn.GroupNorm",
    traits=Traits(role="norm", overwritable=True),
    example="{op: group_norm, groups: 2}",
    example_inputs=[(2, 4, 5, 6)],
)
