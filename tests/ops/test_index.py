"""select and slice: shapes against real indexing, negative dims and bounds, symbolic sizes."""
from __future__ import annotations

import pytest
import torch

from archc.ir.dims import ceildiv, equal, evaluate, sym
from archc.ir.types import ShapeError, TensorType
from archc.ops import OPS, Call, load_ops

load_ops()
B, T = sym("B"), sym("T")


def infer(name, attrs, shape):
    op = OPS[name]
    return op.infer(None, op.attrs.model_validate(attrs), [TensorType(tuple(shape))])


def run(name, attrs, x):
    op = OPS[name]
    a = op.attrs.model_validate(attrs)
    types = [TensorType(tuple(x.shape))]
    out = op.infer(None, a, types)
    low = op.lower(a, types, out)
    assert isinstance(low, Call)
    res = low.fn(x, *low.extra_args, **low.kwargs)
    assert tuple(res.shape) == tuple(out.shape)
    return res


@pytest.mark.parametrize("dim, index", [(1, 0), (1, -1), (-1, 2), (0, 1), (2, -4)])
def test_select(dim, index):
    x = torch.randn(2, 5, 4)
    assert torch.equal(run("select", {"dim": dim, "index": index}, x), x.select(dim, index))


def test_select_errors_and_symbolic():
    with pytest.raises(ShapeError) as e:
        infer("select", {"dim": 1, "index": 5}, (2, 5, 4))
    assert e.value.code == "ARC204"
    with pytest.raises(ShapeError) as e:
        infer("select", {"dim": 1, "index": -6}, (2, 5, 4))
    assert e.value.code == "ARC204"
    with pytest.raises(ShapeError) as e:
        infer("select", {"dim": 3, "index": 0}, (2, 5, 4))
    assert e.value.code == "ARC204"
    assert infer("select", {"dim": 1, "index": 0}, (B, T, 8)).shape == (B, 8)


CASES = [
    {}, {"start": 1}, {"start": -3}, {"end": 4}, {"end": -2}, {"start": 1, "end": -1, "step": 2},
    {"start": 2, "step": 3}, {"start": -7, "end": -1, "step": 2}, {"end": 100}, {"start": -100, "end": 3},
]


@pytest.mark.parametrize("attrs", CASES)
def test_slice_matches_python(attrs):
    x = torch.randn(2, 9, 3)
    want = x[:, slice(attrs.get("start", 0), attrs.get("end"), attrs.get("step", 1))]
    assert torch.equal(run("slice", {"dim": 1, **attrs}, x), want)
    assert torch.equal(run("slice", {"dim": -2, **attrs}, x), want)


@pytest.mark.parametrize("attrs", [a for a in CASES if abs(a.get("start", 0)) < 9 and abs(a.get("end") or 0) < 9])
@pytest.mark.parametrize("L", [7, 9, 10, 16])
def test_slice_symbolic_is_exact(attrs, L):
    """Inside the dim (no clamping), the symbolic size equals Python's at every size."""
    out = infer("slice", {"dim": 1, **attrs}, (B, T, 3))
    n = out.shape[1]
    want = len(range(L)[slice(attrs.get("start", 0), attrs.get("end"), attrs.get("step", 1))])
    assert evaluate(n, {"T": L}) == want
    assert out.shape[0] == B and out.shape[2] == 3


def test_slice_symbolic_form():
    assert equal(infer("slice", {"dim": 1, "start": 1, "step": 2}, (B, T)).shape[1], ceildiv(T - 1, 2))
    assert equal(infer("slice", {"dim": 1, "start": -4}, (B, T)).shape[1], 4)
    assert equal(infer("slice", {"dim": 1, "end": -1}, (B, T)).shape[1], T - 1)


def test_slice_errors():
    with pytest.raises(ShapeError) as e:
        infer("slice", {"dim": 1, "start": 5, "end": 5}, (2, 9))
    assert e.value.code == "ARC206"
    with pytest.raises(ShapeError) as e:
        infer("slice", {"dim": 2}, (2, 9))
    assert e.value.code == "ARC204"
    with pytest.raises(Exception):
        OPS["slice"].attrs.model_validate({"dim": 1, "step": 0})
