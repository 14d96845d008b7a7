"""Pooling (and convolution) shape formulas against torch, concrete and symbolic, incl. ceil_mode."""
from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archc.ir.dims import evaluate, sym
from archc.ir.types import ShapeError, TensorType
from archc.ops import OPS, InferContext, load_ops
from archc.ops.pool import pool_out_size

load_ops()
L_ = sym("L")


from tests.ops._support import Ctx  # noqa: E402


def infer(name, attrs, *shape):
    op = OPS[name]
    return op.infer(Ctx(), op.attrs.model_validate(attrs), [TensorType(tuple(shape))])


def torch_len(name, attrs, L):
    """The output length torch itself gives (modules built directly, not through the lowering)."""
    attrs = dict(attrs)
    k = attrs.pop("kernel")
    cls = {"max_pool1d": torch.nn.MaxPool1d, "avg_pool1d": torch.nn.AvgPool1d}[name]
    return cls(k, **attrs)(torch.zeros(1, 2, L)).shape[-1]


pool_cases = st.tuples(
    st.integers(1, 40),  # L
    st.integers(1, 6),   # kernel
    st.integers(1, 5),   # stride
    st.integers(0, 3),   # padding
    st.integers(1, 3),   # dilation
    st.booleans(),       # ceil_mode
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool_cases)
def test_max_pool_formula_against_torch(case):
    L, k, s, p, d, ceil = case
    attrs = {"kernel": k, "stride": s, "padding": p, "dilation": d, "ceil_mode": ceil}
    try:
        expected = torch_len("max_pool1d", attrs, L)
    except RuntimeError:
        with pytest.raises(ShapeError):
            infer("max_pool1d", attrs, 1, 2, L)
        return
    assert infer("max_pool1d", attrs, 1, 2, L).shape[-1] == expected
    # the symbolic formula agrees everywhere
    assert evaluate(pool_out_size(L_, k, s, p, d, ceil), {"L": L}) == expected


@settings(max_examples=200, deadline=None)
@given(pool_cases)
def test_avg_pool_formula_against_torch(case):
    L, k, s, p, _, ceil = case
    attrs = {"kernel": k, "stride": s, "padding": p, "ceil_mode": ceil}
    try:
        expected = torch_len("avg_pool1d", attrs, L)
    except RuntimeError:
        with pytest.raises(ShapeError):
            infer("avg_pool1d", attrs, 1, 2, L)
        return
    assert infer("avg_pool1d", attrs, 1, 2, L).shape[-1] == expected
    sym_out = infer("avg_pool1d", attrs, 1, 2, L_).shape[-1]
    assert evaluate(sym_out, {"L": L}) == expected


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 30), st.integers(1, 5), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3))
def test_conv_formula_against_torch(L, k, s, p, d):
    attrs = {"out": 2, "kernel": k, "stride": s, "padding": p, "dilation": d}
    op = OPS["conv1d"]
    a = op.attrs.model_validate(attrs)
    t = TensorType((1, 3, L))
    try:
        expected = op.lower(a, [t], None)(torch.zeros(1, 3, L)).shape[-1]
    except RuntimeError:
        return  # too small: the inference pass reports non-positive sizes
    assert op.infer(Ctx(), a, [t]).shape[-1] == expected
    assert evaluate(op.infer(Ctx(), a, [TensorType((1, 3, L_))]).shape[-1], {"L": L}) == expected


def test_ceil_mode_symbolic_exact():
    # ResNet-style stem pool on symbolic H, W; and the classic ceil_mode case where the correction fires
    H, W = sym("H"), sym("W")
    out = infer("max_pool2d", {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True}, 2, 64, H, W)
    for h in range(1, 40):
        ref = torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)(torch.zeros(1, 1, h, 5)).shape[-2]
        assert evaluate(out.shape[2], {"H": h, "W": 5}) == ref
    out = infer("avg_pool1d", {"kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True}, 1, 1, L_)
    for n in range(1, 30):
        ref = torch.nn.AvgPool1d(2, 2, 1, ceil_mode=True)(torch.zeros(1, 1, n)).shape[-1]
        assert evaluate(out.shape[-1], {"L": n}) == ref


def test_pool_defaults_and_unbatched():
    assert infer("max_pool2d", {"kernel": 2}, 2, 3, 8, 9).shape == (2, 3, 4, 4)
    assert infer("avg_pool3d", {"kernel": [1, 2, 2]}, 3, 8, 8, 8).shape == (3, 8, 4, 4)


@pytest.mark.parametrize(
    "name,attrs,shape,code",
    [("max_pool2d", {"kernel": 2}, (3, 8), "ARC205"),
     ("max_pool2d", {"kernel": [2, 2, 2]}, (2, 3, 8, 8), "ARC204"),
     ("max_pool2d", {"kernel": 2, "padding": 2}, (2, 3, 8, 8), "ARC204"),
     ("max_pool1d", {"kernel": 2, "stride": 0}, (2, 3, 8), "ARC204"),
     ("max_pool1d", {"kernel": 5}, (2, 3, 4), "ARC206"),
     ("max_pool1d", {"kernel": 2}, (2, 3, 8, 8, 8), "ARC205"),
     ("adaptive_avg_pool2d", {"output_size": [1, 2, 3]}, (2, 3, 8, 8), "ARC204"),
     ("adaptive_avg_pool2d", {"output_size": 0}, (2, 3, 8, 8), "ARC204")],
)
def test_pool_errors(name, attrs, shape, code):
    with pytest.raises(ShapeError) as e:
        infer(name, attrs, *shape)
    assert e.value.code == code


def test_adaptive_pool_none_keeps_size():
    H = sym("H")
    assert infer("adaptive_max_pool2d", {"output_size": [None, 1]}, 2, 3, H, 9).shape == (2, 3, H, 1)
    op = OPS["adaptive_max_pool2d"]
    mod = op.lower(op.attrs.model_validate({"output_size": [None, 1]}), [TensorType((2, 3, 7, 9))], None)
    assert tuple(mod(torch.zeros(2, 3, 7, 9)).shape) == (2, 3, 7, 1)
