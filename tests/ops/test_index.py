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


# ---------------------------------------------------------------------------------------------
# gather, index_select, take
# ---------------------------------------------------------------------------------------------

from tests.ops._support import Ctx  # noqa: E402


def run_n(name, attrs, *xs, ctx=None):
    op = OPS[name]
    a = op.attrs.model_validate(attrs)
    types = [TensorType(tuple(x.shape), str(x.dtype).removeprefix("torch.")) for x in xs]
    out = op.infer(ctx or Ctx(), a, types)
    low = op.lower(a, types, out)
    assert isinstance(low, Call)
    res = low.fn(*xs, *low.extra_args, **low.kwargs)
    assert tuple(res.shape) == tuple(out.shape) and str(res.dtype).removeprefix("torch.") == out.dtype
    return res


def infer_n(name, attrs, *types, ctx=None):
    op = OPS[name]
    return op.infer(ctx or Ctx(), op.attrs.model_validate(attrs), list(types))


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_gather_matches_torch(dim):
    x = torch.randn(3, 5, 4)
    shape = [2, 3, 4]
    shape[dim] = 6
    idx = torch.randint(0, x.shape[dim], shape)
    assert torch.equal(run_n("gather", {"dim": dim}, x, idx), torch.gather(x, dim, idx))


def test_gather_errors():
    with pytest.raises(ShapeError) as e:
        infer_n("gather", {"dim": 1}, TensorType((2, 5, 3)), TensorType((2, 4), "int64"))
    assert e.value.code == "ARC205" and e.value.input_index == 1 and e.value.hint
    with pytest.raises(ShapeError) as e:
        infer_n("gather", {"dim": 1}, TensorType((2, 5, 3)), TensorType((2, 4, 3), "int32"))
    assert e.value.code == "ARC202"
    with pytest.raises(ShapeError) as e:
        infer_n("gather", {"dim": 1}, TensorType((2, 5, 3)), TensorType((2, 4, 4), "int64"))
    assert e.value.code == "ARC201" and "dim 2" in e.value.message
    # symbolic: the other dims are compared at the example sizes
    assert infer_n("gather", {"dim": 1}, TensorType((B, T, 3)), TensorType((B, 7, 3), "int64"),
                   ctx=Ctx({"B": 2, "T": 5})).shape == (B, 7, 3)


@pytest.mark.parametrize("index", [[0], [4, 0, 2], [-1, -5, 1, 1]])
@pytest.mark.parametrize("dim", [1, -2])
def test_index_select_constant_and_tensor(index, dim):
    x = torch.randn(2, 5, 3)
    want = torch.index_select(x, dim, torch.tensor([i % 5 for i in index]))
    assert torch.equal(run_n("index_select", {"dim": dim, "index": index}, x), want)
    assert torch.equal(run_n("index_select", {"dim": dim}, x, torch.tensor([i % 5 for i in index])), want)


def test_index_select_errors():
    x = TensorType((2, 5, 3))
    for attrs, types, code in [
        ({"dim": 1, "index": [5]}, [x], "ARC204"),
        ({"dim": 1, "index": [-6]}, [x], "ARC204"),
        ({"dim": 1, "index": []}, [x], "ARC206"),
        ({"dim": 1}, [x], "ARC204"),
        ({"dim": 1, "index": [0]}, [x, TensorType((2,), "int64")], "ARC204"),
        ({"dim": 1}, [x, TensorType((2, 2), "int64")], "ARC205"),
        ({"dim": 1}, [x, TensorType((2,), "float32")], "ARC202"),
    ]:
        with pytest.raises(ShapeError) as e:
            infer_n("index_select", attrs, *types)
        assert e.value.code == code, (attrs, e.value.message)
    # a symbolic dim is checked at the example sizes
    with pytest.raises(ShapeError) as e:
        infer_n("index_select", {"dim": 1, "index": [6]}, TensorType((B, T)), ctx=Ctx({"B": 2, "T": 6}))
    assert e.value.code == "ARC204" and "example" in e.value.message and e.value.hint
    assert infer_n("index_select", {"dim": 1}, TensorType((B, T)), TensorType((sym("K"),), "int64")).shape == \
        (B, sym("K"))


def test_take_pools_one_token_per_row():
    """CLIP's pooled output: hidden[arange(B), ids.argmax(-1)]."""
    h = torch.randn(3, 7, 4)
    ids = torch.randint(0, 100, (3, 7))
    eot = ids.argmax(-1)
    assert torch.equal(run_n("take", {"dim": 1}, h, eot), h[torch.arange(3), eot])
    assert torch.equal(run_n("take", {"dim": 1}, h, eot.int()), h[torch.arange(3), eot])


def test_take_along_other_dims():
    x = torch.randn(2, 3, 5, 4)
    idx = torch.randint(0, 5, (2, 3))
    want = x[torch.arange(2)[:, None], torch.arange(3)[None, :], idx]
    assert torch.equal(run_n("take", {"dim": 2}, x, idx), want)
    idx0 = torch.tensor(1)
    assert torch.equal(run_n("take", {"dim": 0}, x, idx0), x[1])


def test_take_shapes_and_errors():
    assert infer_n("take", {"dim": 1}, TensorType((B, T, 8)), TensorType((B,), "int64")).shape == (B, 8)
    ctx = Ctx()
    infer_n("take", {}, TensorType((B, T, 8)), TensorType((sym("N"),), "int64"), ctx=ctx)
    assert ctx.constraints and "`take` index dim 0" in ctx.constraints[0][2]
    with pytest.raises(ShapeError) as e:
        infer_n("take", {"dim": 1}, TensorType((2, 5, 8)), TensorType((2, 5), "int64"))
    assert e.value.code == "ARC205" and e.value.hint and e.value.input_index == 1
    with pytest.raises(ShapeError) as e:
        infer_n("take", {"dim": 1}, TensorType((2, 5, 8)), TensorType((3,), "int64"))
    assert e.value.code == "ARC201"
    with pytest.raises(ShapeError) as e:
        infer_n("take", {"dim": 1}, TensorType((2, 5, 8)), TensorType((2,), "float32"))
    assert e.value.code == "ARC202"
