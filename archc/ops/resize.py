"""op: upsample (alias interpolate): resize the spatial dims by a scale factor, to a size, or to the
spatial size of a second input. A `size` may be another node's symbolic dim (`${dim(skip, 2)}`),
which the module reads at run time (archc.codegen.fx `_RuntimeSizes`), so exports keep it dynamic."""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, ClassVar, Literal, Optional, Sequence, Union

from pydantic import Field

from archc.ir.dims import Dim, dim_str, floordiv
from archc.ir.types import ShapeError, TensorType
from archc.ops._cost import Cost, numel
from archc.ops._registry import Attrs, Call, InferContext, OnnxLimit, Traits, rank_error, register
from archc.ops.tensor import SizeEntry, require_float

Mode = Literal["nearest", "linear", "bilinear", "bicubic", "trilinear", "nearest-exact"]

_RANKS = {
    "nearest": (3, 4, 5),
    "nearest-exact": (3, 4, 5),
    "linear": (3,),
    "bilinear": (4,),
    "bicubic": (4,),
    "trilinear": (5,),
}
# Largest denominator of a non-integer scale we apply to a symbolic size: floor(L * s) in double
# precision equals floordiv(L * num, den) exactly while L * num stays below 2**53.
_MAX_DEN = 1 << 16


class UpsampleAttrs(Attrs):
    symbolic_sizes: ClassVar[tuple[str, ...]] = ("size",)
    scale_factor: Union[float, list[float], None] = Field(
        None, description="multiplier for the spatial sizes, one number or one per spatial dim"
    )
    size: Union[SizeEntry, list[SizeEntry], None] = Field(
        None, description="output spatial size, one int or one per spatial dim; an entry may be another node's "
        "symbolic dim (`${dim(skip, 2)}`), read at run time")
    mode: Mode = "nearest"
    align_corners: Optional[bool] = Field(None, description="only for linear, bilinear, bicubic, trilinear")


def scaled_size(op: str, L: Dim, s: float) -> Dim:
    """torch's floor(L * s), exact on symbolic `L` when `s` is an integer or has a small
    power-of-two denominator (0.5, 0.25, 1.5); ARC204 otherwise."""
    if isinstance(L, int):
        return L * int(s) if float(s).is_integer() else math.floor(float(L) * s)
    if float(s).is_integer():
        return L * int(s)
    frac = Fraction(s)
    if frac.denominator > _MAX_DEN:
        raise ShapeError(
            "ARC204",
            f"`{op}` scale_factor {s} on the symbolic size `{dim_str(L)}` has no exact integer form",
            hint="use an integer scale, one like 0.5 or 1.5, or give `size` instead",
            input_index=0,
        )
    return floordiv(L * frac.numerator, frac.denominator)


def _spec(op: str, a: UpsampleAttrs, nd: int):
    if (a.scale_factor is None) == (a.size is None):
        raise ShapeError("ARC204", f"`{op}` needs exactly one of `scale_factor` and `size`")
    if a.align_corners is not None and a.mode in ("nearest", "nearest-exact"):
        raise ShapeError(
            "ARC204",
            f"`{op}` align_corners only applies to the linear, bilinear, bicubic and trilinear modes, not {a.mode!r}",
        )
    if a.size is not None:
        sizes = tuple(a.size) if isinstance(a.size, list) else (a.size,) * nd
        if len(sizes) != nd:
            raise ShapeError("ARC204", f"`{op}` size needs {nd} values for a rank-{nd + 2} input, got {len(sizes)}")
        if any(isinstance(v, int) and v < 1 for v in sizes):
            raise ShapeError("ARC204", f"`{op}` size must be >= 1, got [{', '.join(dim_str(v) for v in sizes)}]")
        return "size", sizes
    scales = (a.scale_factor,) * nd if not isinstance(a.scale_factor, list) else tuple(a.scale_factor)
    if len(scales) != nd:
        raise ShapeError("ARC204", f"`{op}` scale_factor needs {nd} values for a rank-{nd + 2} input, got {len(scales)}")
    if any(not (v > 0) or math.isinf(v) for v in scales):
        raise ShapeError("ARC204", f"`{op}` scale_factor must be positive and finite, got {list(scales)}")
    return "scale_factor", tuple(float(v) for v in scales)


def _check(op: str, a: UpsampleAttrs, x: TensorType) -> None:
    ranks = _RANKS[a.mode]
    if x.rank not in ranks:
        want = " or ".join(f"rank-{r}" for r in ranks)
        raise rank_error(op, f"a {want} input [B, C, spatial...] for mode {a.mode!r}", x)
    if a.mode not in ("nearest", "nearest-exact"):
        require_float(op, x)


def _like(op: str, a: UpsampleAttrs, x: TensorType, ref: TensorType) -> tuple:
    """The spatial size of `ref`, which a two-input upsample resizes `x` to (symbolic as it is)."""
    if a.scale_factor is not None or a.size is not None:
        raise ShapeError("ARC204", f"`{op}` with a second input takes its size from that input: "
                         "give neither `scale_factor` nor `size`", input_index=1)
    if ref.rank != x.rank:
        raise ShapeError("ARC205", f"`{op}` resizes to the spatial size of its second input, which must have "
                         f"the rank of the first ({x.rank}), got {ref.shape_str()}", input_index=1)
    return tuple(ref.shape[2:])


def interpolate_like(x: Any, ref: Any, mode: str = "nearest", align_corners: Any = None) -> Any:
    """`F.interpolate(x, size=ref's spatial size)`, read from `ref` at run time (so exports keep it dynamic)."""
    import torch.nn.functional as F

    return F.interpolate(x, size=ref.shape[2:], mode=mode, align_corners=align_corners)


def _infer(op: str):
    def infer(ctx: InferContext, a: UpsampleAttrs, ins: Sequence[TensorType]) -> TensorType:
        x = ins[0]
        _check(op, a, x)
        if len(ins) == 2:
            return x.with_shape(x.shape[:2] + _like(op, a, x, ins[1]))
        nd = x.rank - 2
        kind, vals = _spec(op, a, nd)
        if kind == "size":
            spatial = vals
        else:
            spatial = tuple(scaled_size(op, x.shape[2 + i], s) for i, s in enumerate(vals))
            for L, o in zip(x.shape[2:], spatial):
                if isinstance(o, int) and o < 1:
                    raise ShapeError("ARC206", f"`{op}` output size would be {o} for input size {dim_str(L)}", input_index=0)
        return x.with_shape(x.shape[:2] + tuple(spatial))

    return infer


def _lower(op: str):
    def lower(a: UpsampleAttrs, ins: Sequence[TensorType], out: TensorType):
        import torch.nn.functional as F

        if len(ins) == 2:
            return Call(interpolate_like, kwargs={"mode": a.mode, "align_corners": a.align_corners})
        kind, vals = _spec(op, a, ins[0].rank - 2)
        kwargs: dict = {kind: vals, "mode": a.mode}
        if a.align_corners is not None:
            kwargs["align_corners"] = a.align_corners
        return Call(F.interpolate, kwargs=kwargs)

    return lower


# FLOPs per output element by mode (the weighted sum of 1, 2, 4, 8 or 16 neighbours)
_INTERP = {"nearest": 0, "nearest-exact": 0, "linear": 3, "bilinear": 7, "trilinear": 15, "bicubic": 31}


def _cost(node, ins, env) -> Cost:
    return Cost(0, _INTERP[node.attrs.mode] * numel(node.out, env))


# ONNX `Resize` is opset 10; it gained `coordinate_transformation_mode` (align_corners, half_pixel),
# which torch's linear and cubic modes need, and cubic mode in opset 11.
_ONNX = (
    OnnxLimit(11, "ONNX `Resize` with linear/cubic modes and torch's coordinate conventions needs opset 11",
              "export with --opset 11 or later", attr="mode", applies=lambda a: getattr(a, "mode", "nearest") != "nearest"),
    OnnxLimit(10, "ONNX `Resize` needs opset 10", "export with --opset 10 or later"),
)
for _name, _doc in (
    ("upsample", "Resize the spatial dims by `scale_factor` or to `size` (nearest, linear, bilinear, ...)."),
    ("interpolate", "Alias of `upsample`: resize the spatial dims by `scale_factor` or to `size`."),
):
    register(
        _name,
        attrs=UpsampleAttrs,
        infer=_infer(_name),
        lower=_lower(_name),
        arity=(1, 2),
        cost=_cost,
        family="resize",
        traits=Traits(onnx=_ONNX),
        doc=_doc,
        shape_doc="[B, C, spatial...] -> [B, C, floor(L*scale_factor) or size...]; exactly one of scale_factor "
        "and size, or a second input whose spatial size it takes (read at run time). On a symbolic size the scale must be an integer or have an exact form (0.5 -> L//2).",
        lowers_to="torch.nn.functional.interpolate",
        example=f"{{op: {_name}, scale_factor: 2, mode: bilinear, align_corners: false}}",
        example_inputs=[(2, 3, 4, 5)],
    )
