"""upsample / interpolate: scale factors (integer, exact fractions, inexact), size, modes, errors."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archc.ir.dims import evaluate, floordiv, sym
from archc.ir.types import ShapeError, TensorType
from archc.ops import OPS, InferContext, load_ops

load_ops()
H, W = sym("H"), sym("W")


from tests.ops._support import Ctx  # noqa: E402


def infer(attrs, *shape, name="upsample", dtype="float32"):
    op = OPS[name]
    return op.infer(Ctx(), op.attrs.model_validate(attrs), [TensorType(tuple(shape), dtype)])


def run(attrs, *shape, name="upsample"):
    op = OPS[name]
    a = op.attrs.model_validate(attrs)
    t = TensorType(tuple(shape))
    out = op.infer(Ctx(), a, [t])
    call = op.lower(a, [t], out)
    return out, call.fn(torch.randn(shape), *call.extra_args, **call.kwargs)


@pytest.mark.parametrize("name", ["upsample", "interpolate"])
def test_symbolic_scales(name):
    assert infer({"scale_factor": 2}, 2, 3, H, W, name=name).shape == (2, 3, 2 * H, 2 * W)
    assert infer({"scale_factor": 0.5}, 2, 3, H, W, name=name).shape == (2, 3, floordiv(H, 2), floordiv(W, 2))
    out = infer({"scale_factor": [1.5, 3]}, 2, 3, H, W, name=name).shape
    assert out[2] == floordiv(3 * H, 2) and out[3] == 3 * W
    assert infer({"size": [7, 9]}, 2, 3, H, W, name=name).shape == (2, 3, 7, 9)


def test_inexact_scale_on_symbolic_size():
    with pytest.raises(ShapeError) as e:
        infer({"scale_factor": 0.3}, 2, 3, H, W)
    assert e.value.code == "ARC204"
    # the same scale on a static size is fine
    out, r = run({"scale_factor": 0.3}, 1, 1, 17, 10)
    assert tuple(out.shape) == tuple(r.shape)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 50), st.sampled_from([0.25, 0.5, 0.75, 1.5, 2.0, 2.5, 3.0, 0.1, 1 / 3, 1.7]),
       st.sampled_from(["nearest", "linear", "nearest-exact"]))
def test_scale_against_torch(L, s, mode):
    attrs = {"scale_factor": s, "mode": mode}
    try:
        expected = torch.nn.functional.interpolate(torch.zeros(1, 2, L), scale_factor=s, mode=mode).shape[-1]
    except RuntimeError:
        expected = 0
    if expected < 1:
        with pytest.raises(ShapeError):
            infer(attrs, 1, 2, L)
        return
    out, r = run(attrs, 1, 2, L)
    assert out.shape[-1] == r.shape[-1] == expected
    try:
        sym_out = infer(attrs, 1, 2, sym("L")).shape[-1]
    except ShapeError as e:
        assert e.code == "ARC204" and s in (0.1, 1 / 3, 1.7)
        return
    assert evaluate(sym_out, {"L": L}) == expected


@pytest.mark.parametrize("mode,shape", [("linear", (2, 3, 5)), ("bilinear", (2, 3, 4, 5)), ("bicubic", (2, 3, 4, 5)),
                                        ("trilinear", (2, 3, 4, 5, 6)), ("nearest", (2, 3, 5, 6, 7))])
def test_modes_run(mode, shape):
    attrs = {"size": 8, "mode": mode}
    if mode != "nearest":
        attrs["align_corners"] = True
    out, r = run(attrs, *shape)
    assert tuple(out.shape) == tuple(r.shape)


@pytest.mark.parametrize(
    "attrs,shape,code",
    [({}, (2, 3, 4, 5), "ARC204"),
     ({"scale_factor": 2, "size": 4}, (2, 3, 4, 5), "ARC204"),
     ({"scale_factor": 2, "align_corners": True}, (2, 3, 4, 5), "ARC204"),
     ({"scale_factor": [2, 2, 2]}, (2, 3, 4, 5), "ARC204"),
     ({"size": [2, 0]}, (2, 3, 4, 5), "ARC204"),
     ({"scale_factor": 0}, (2, 3, 4, 5), "ARC204"),
     ({"scale_factor": 2, "mode": "bilinear"}, (2, 3, 4), "ARC205"),
     ({"scale_factor": 2}, (2, 3), "ARC205"),
     ({"scale_factor": 0.1}, (2, 3, 4, 5), "ARC206"),
     ({"scale_factor": 2, "mode": "bilinear"}, (2, 3, 4, 5), None)],
)
def test_errors(attrs, shape, code):
    if code is None:
        infer(attrs, *shape)
        return
    with pytest.raises(ShapeError) as e:
        infer(attrs, *shape)
    assert e.value.code == code


def test_integer_input_needs_nearest():
    assert infer({"scale_factor": 2}, 2, 3, 4, 5, dtype="int64").dtype == "int64"
    with pytest.raises(ShapeError) as e:
        infer({"scale_factor": 2, "mode": "bilinear"}, 2, 3, 4, 5, dtype="int64")
    assert e.value.code == "ARC202"
