"""sum, prod, max, min, argmax, argmin, cumsum (and mean's shared attrs): shapes and dtypes against
torch, negative and multiple dims, keepdim, symbolic sizes, and the diagnostics."""
from __future__ import annotations

import pytest
import torch

from archc.ir.dims import sym
from archc.ir.types import ShapeError, TensorType
from archc.ops import OPS, Call, load_ops

load_ops()
B, T = sym("B"), sym("T")
TORCH = {"float32": torch.float32, "float16": torch.float16, "int64": torch.int64, "int32": torch.int32,
         "bool": torch.bool}
REF = {
    "sum": lambda x, dims, k: torch.sum(x, dim=dims, keepdim=k),
    "prod": lambda x, dims, k: _prod_ref(x, dims, k),
    "max": lambda x, dims, k: torch.amax(x, dim=dims, keepdim=k),
    "min": lambda x, dims, k: torch.amin(x, dim=dims, keepdim=k),
    "mean": lambda x, dims, k: torch.mean(x, dim=dims, keepdim=k),
}


def _prod_ref(x, dims, keepdim):
    # torch.prod takes one dim: reduce over the named dims by moving them last and flattening them
    dims = [d % x.dim() for d in dims]
    rest = [d for d in range(x.dim()) if d not in dims]
    y = x.permute(rest + dims).flatten(len(rest)).prod(-1)
    if keepdim:
        for d in sorted(dims):
            y = y.unsqueeze(d)
    return y


def infer(name, attrs, *types):
    op = OPS[name]
    return op.infer(None, op.attrs.model_validate(attrs), list(types))


def run(name, attrs, *xs):
    op = OPS[name]
    a = op.attrs.model_validate(attrs)
    types = [TensorType(tuple(x.shape), str(x.dtype).removeprefix("torch.")) for x in xs]
    out = op.infer(None, a, types)
    assert isinstance(out.shape, tuple)
    low = op.lower(a, types, out)
    assert isinstance(low, Call)
    res = low.fn(*xs, *low.extra_args, **low.kwargs)
    assert tuple(res.shape) == out.shape and res.dtype == TORCH[out.dtype], (res.shape, res.dtype, out)
    return res


def sample(dtype, shape=(2, 3, 4, 5)):
    if dtype == "bool":
        return torch.rand(shape) > 0.5
    if dtype in ("int64", "int32"):
        return torch.randint(-3, 4, shape, dtype=TORCH[dtype])
    return torch.randn(shape, dtype=TORCH[dtype])


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean"])
@pytest.mark.parametrize("dims", [1, -1, [0, 2], [-1, 1], [3, 0, 1]])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reduction_matches_torch(name, dims, keepdim):
    x = torch.randn(2, 3, 4, 5)
    want = REF[name](x, tuple(dims) if isinstance(dims, list) else (dims,), keepdim)
    got = run(name, {"dims": dims, "keepdim": keepdim}, x)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("dtype", ["float16", "int32", "int64", "bool"])
def test_reduction_dtypes_follow_torch(name, dtype):
    """sum and prod of integers and bools are int64 in torch; max and min keep the dtype."""
    x = sample(dtype)
    out = run(name, {"dims": [1, 2]}, x)
    assert out.dtype == REF[name](x, (1, 2), False).dtype


def test_mean_takes_the_reductions_attrs():
    """`mean` accepts what every reduction accepts (and stays float-only)."""
    assert set(OPS["mean"].attrs.model_fields) == set(OPS["sum"].attrs.model_fields) == {"dims", "keepdim"}
    assert infer("mean", {"dims": [-1, 1], "keepdim": True}, TensorType((B, 3, T))).shape == (B, 1, 1)
    with pytest.raises(ShapeError) as e:
        infer("mean", {"dims": 1}, TensorType((2, 3), "int64"))
    assert e.value.code == "ARC202"


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_arg_reductions_are_int64(name, dim, keepdim, dtype):
    x = sample(dtype, (3, 4, 5))
    got = run(name, {"dim": dim, "keepdim": keepdim}, x)
    assert torch.equal(got, getattr(torch, name)(x, dim=dim, keepdim=keepdim))
    assert got.dtype == torch.int64


def test_arg_reduction_of_bool_is_a_diagnostic():
    with pytest.raises(ShapeError) as e:
        infer("argmax", {"dim": 1}, TensorType((2, 3), "bool"))
    assert e.value.code == "ARC202" and e.value.hint and e.value.input_index == 0


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64", "bool"])
@pytest.mark.parametrize("dim", [1, -1, 0])
def test_cumsum_matches_torch(dtype, dim):
    x = sample(dtype, (3, 6))
    got = run("cumsum", {"dim": dim}, x)
    assert torch.equal(got, torch.cumsum(x, dim=dim))


def test_position_ids_from_a_padding_mask():
    """RoBERTa's position ids: cumsum of the mask, times the mask, plus the padding index."""
    ids = torch.tensor([[0, 5, 7, 1, 1], [0, 4, 1, 1, 1]])
    mask = (ids != 1).long()
    pos = run("cumsum", {"dim": 1}, mask) * mask + 1
    assert pos.tolist() == [[2, 3, 4, 1, 1], [2, 3, 1, 1, 1]]


def test_symbolic_shapes_are_exact():
    assert infer("sum", {"dims": [1]}, TensorType((B, T, 8))).shape == (B, 8)
    assert infer("max", {"dims": -1, "keepdim": True}, TensorType((B, T, 8))).shape == (B, T, 1)
    assert infer("argmax", {"dim": -1}, TensorType((B, T), "int64")).shape == (B,)
    assert infer("cumsum", {"dim": 1}, TensorType((B, T), "int32")) == TensorType((B, T), "int64")
    assert infer("sum", {"dims": [0, 1]}, TensorType((B, T))).shape == ()


@pytest.mark.parametrize("name, attrs, code", [
    ("sum", {"dims": 3}, "ARC204"), ("max", {"dims": [1, -2]}, "ARC204"), ("min", {"dims": []}, "ARC204"),
    ("prod", {"dims": [-4]}, "ARC204"), ("argmin", {"dim": 3}, "ARC204"), ("cumsum", {"dim": -4}, "ARC204"),
])
def test_reduction_errors(name, attrs, code):
    with pytest.raises(ShapeError) as e:
        infer(name, attrs, TensorType((2, 3, 4)))
    assert e.value.code == code and f"`{name}`" in e.value.message


def test_argmax_takes_one_dim():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        OPS["argmax"].attrs.model_validate({"dim": [1, 2]})


def test_costs_per_input_element():
    from types import SimpleNamespace

    x = TensorType((B, T, 8))
    for name, attrs in (("sum", {"dims": 1}), ("max", {"dims": [1, 2]}), ("argmax", {"dim": 1}), ("cumsum", {"dim": 1})):
        out = infer(name, attrs, x)
        cost = OPS[name].cost(SimpleNamespace(out=out), [x], {"B": 2, "T": 5})
        assert (cost.macs, cost.flops) == (0, 80), name
