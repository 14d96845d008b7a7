"""Edge cases of the tensor family: broadcasting, concat, split, reshape (0 / -1, symbolic),
permute/transpose/flatten/unflatten, matmul, mean, negative dims."""
from __future__ import annotations

import pytest
import torch

from archc.ir.dims import UnboundSymbol, dim_str, equal, evaluate, floordiv, free_symbols, sym
from archc.ir.types import ShapeError, TensorType
from archc.ops import OPS, Call, InferContext, load_ops

load_ops()
B, T, H, W = sym("B"), sym("T"), sym("H"), sym("W")


from tests.ops._support import Ctx  # noqa: E402


def infer(name, attrs=None, *shapes, ctx=None, dtypes=None):
    op = OPS[name]
    a = op.attrs.model_validate(attrs or {})
    types = [TensorType(tuple(s), (dtypes or ["float32"] * len(shapes))[i]) for i, s in enumerate(shapes)]
    return op.infer(ctx or Ctx(), a, types)


def shape(name, attrs, *shapes, ctx=None):
    return tuple(infer(name, attrs, *shapes, ctx=ctx).shape)


def run(name, attrs, *tensors):
    op = OPS[name]
    a = op.attrs.model_validate(attrs or {})
    types = [TensorType(tuple(t.shape), "float32") for t in tensors]
    out = op.infer(Ctx(), a, types)
    low = op.lower(a, types, out)
    assert isinstance(low, Call)
    args = [list(tensors)] if low.pack_inputs else list(tensors)
    return out, low.fn(*args, *low.extra_args, **low.kwargs)


def code_of(excinfo):
    return excinfo.value.code


# -- broadcasting -----------------------------------------------------------------------------


@pytest.mark.parametrize("a,b", [((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (5, 1, 2)), ((2, 3), (2, 3))])
@pytest.mark.parametrize("op", ["add", "mul"])
def test_broadcast_matches_torch(op, a, b):
    out, r = run(op, {}, torch.randn(a), torch.randn(b))
    assert tuple(out.shape) == tuple(r.shape)


def test_add_nary():
    xs = [torch.randn(2, 3, 4), torch.randn(4), torch.randn(1, 3, 1)]
    out, r = run("add", {}, *xs)
    assert tuple(out.shape) == (2, 3, 4)
    torch.testing.assert_close(r, xs[0] + xs[1] + xs[2])
    out, r = run("mul", {}, *xs)
    torch.testing.assert_close(r, xs[0] * xs[1] * xs[2])


def test_broadcast_symbolic():
    ctx = Ctx()
    assert shape("add", {}, (B, 1, W), (1, H, W), ctx=ctx) == (B, H, W)
    assert ctx.constraints == []
    ctx = Ctx()
    assert shape("add", {}, (B, H), (B, W), ctx=ctx) == (B, H)
    assert [(c[0], c[1], c[3]) for c in ctx.constraints] == [(H, W, (0, 1))]


def test_broadcast_mismatch():
    with pytest.raises(ShapeError) as e:
        infer("add", {}, (2, 3), (2, 4))
    assert e.value.code == "ARC201"
    with pytest.raises(ShapeError) as e:
        infer("mul", {}, (2, 3), (3,), dtypes=["float32", "int64"])
    assert e.value.code == "ARC202" and e.value.input_index == 1


# -- concat / split ---------------------------------------------------------------------------


def test_concat():
    assert shape("concat", {"dim": 1}, (B, 3, H), (B, 5, H), (B, T, H)) == (B, 8 + T, H)
    assert shape("concat", {"dim": -1}, (2, 3), (2, 4)) == (2, 7)
    out, r = run("concat", {"dim": -1}, torch.randn(2, 3), torch.randn(2, 4))
    assert tuple(r.shape) == (2, 7)
    with pytest.raises(ShapeError) as e:
        infer("concat", {}, (2, 3, 4), (2, 3, 5))
    assert code_of(e) == "ARC201"
    with pytest.raises(ShapeError) as e:
        infer("concat", {}, (2, 3, 4), (2, 3))
    assert code_of(e) == "ARC205" and e.value.input_index == 1
    with pytest.raises(ShapeError) as e:
        infer("concat", {"dim": 3}, (2, 3, 4), (2, 3, 4))
    assert code_of(e) == "ARC204" and "rank-3" in e.value.message
    ctx = Ctx()
    infer("concat", {"dim": 1}, (B, 3, H), (B, 3, W), ctx=ctx)
    assert len(ctx.constraints) == 1


@pytest.mark.parametrize("sizes,dim,shp", [(2, 1, (2, 5, 3)), ([1, 4], -2, (2, 5, 3)), (3, -1, (2, 5, 3)), ([5], 1, (2, 5, 3))])
def test_split_matches_torch(sizes, dim, shp):
    out, r = run("split", {"sizes": sizes, "dim": dim}, torch.randn(shp))
    assert [tuple(t.shape) for t in out] == [tuple(t.shape) for t in r]


def test_split_errors():
    with pytest.raises(ShapeError) as e:
        infer("split", {"sizes": [2, 2]}, (2, 5))
    assert code_of(e) == "ARC204" and "add up to 4" in e.value.message
    with pytest.raises(ShapeError) as e:
        infer("split", {"sizes": 2, "dim": 0}, (B, 4))
    assert code_of(e) == "ARC204"
    assert [tuple(t.shape) for t in infer("split", {"sizes": [1, 3]}, (B, 4, H))] == [(B, 1, H), (B, 3, H)]


# -- reshape -----------------------------------------------------------------------------------


def test_reshape_heads_exact():
    ctx = Ctx()
    assert shape("reshape", {"shape": [0, 0, 12, -1]}, (B, T, 768), ctx=ctx) == (B, T, 12, 64)
    assert ctx.constraints == []


def test_reshape_symbolic_records_constraint():
    ctx = Ctx()
    out = shape("reshape", {"shape": [0, -1, 8]}, (B, H, W, 12), ctx=ctx)
    assert out[0] == B and out[2] == 8
    assert equal(out[1], floordiv(H * W * 12, 8))
    assert len(ctx.constraints) == 1  # 12*H*W divisible by 8
    env = {"B": 2, "H": 2, "W": 3}
    assert evaluate(out[1], env) == 9
    # a fully symbolic target without -1 records an element-count equality
    ctx = Ctx()
    assert shape("reshape", {"shape": [0, 64]}, (B, H, W), ctx=ctx) == (B, 64)
    assert len(ctx.constraints) == 1


def test_reshape_flatten_symbolic():
    ctx = Ctx()
    assert shape("reshape", {"shape": [0, -1]}, (B, 3, H, W), ctx=ctx) == (B, 3 * H * W)
    assert ctx.constraints == []


@pytest.mark.parametrize(
    "target,shp", [([0, 0, 2, -1], (2, 3, 8)), ([-1], (2, 3, 4)), ([0, -1], (2, 3, 4)), ([4, 0, 2], (2, 3, 4)), ([6, 4], (2, 3, 4))]
)
def test_reshape_matches_torch(target, shp):
    out, r = run("reshape", {"shape": target}, torch.randn(shp))
    assert tuple(out.shape) == tuple(r.shape)


@pytest.mark.parametrize(
    "target,shp", [([-1, -1], (2, 3)), ([0, 0, 0], (2, 3)), ([5, -1], (2, 3)), ([4, 2], (2, 3)), ([-2, 3], (2, 3))]
)
def test_reshape_errors(target, shp):
    with pytest.raises(ShapeError) as e:
        infer("reshape", {"shape": target}, shp)
    assert code_of(e) == "ARC204"


def test_reshape_onnx_helper_is_dynamic():
    from archc.ops._modules import reshape_onnx

    assert tuple(reshape_onnx(torch.randn(5, 7, 24), (0, 0, 2, -1)).shape) == (5, 7, 2, 12)


# -- permute / transpose / flatten / unflatten ---------------------------------------------------


def test_permute_transpose_negative_dims():
    assert shape("permute", {"dims": [0, -1, 1]}, (B, T, 8)) == (B, 8, T)
    assert shape("transpose", {"dim0": -1, "dim1": -2}, (B, T, 8)) == (B, 8, T)
    out, r = run("transpose", {"dim0": -1, "dim1": 0}, torch.randn(2, 3, 4))
    assert tuple(out.shape) == tuple(r.shape)
    out, r = run("permute", {"dims": [2, 0, -2]}, torch.randn(2, 3, 4))
    assert tuple(out.shape) == tuple(r.shape)


@pytest.mark.parametrize(
    "name,attrs", [("permute", {"dims": [0, 1]}), ("permute", {"dims": [0, 1, 1]}), ("permute", {"dims": [0, 1, 3]}),
                   ("transpose", {"dim0": 0, "dim1": 3}), ("transpose", {"dim0": -4, "dim1": 0}),
                   ("flatten", {"start_dim": 2, "end_dim": 1}), ("flatten", {"start_dim": 5}),
                   ("softmax", {"dim": 3}), ("mean", {"dims": [1, -2]}), ("unflatten", {"dim": 1, "sizes": [2, 2]})]
)
def test_dim_errors(name, attrs):
    with pytest.raises(ShapeError) as e:
        infer(name, attrs, (2, 3, 4))
    assert code_of(e) == "ARC204"
    if "out of range" in e.value.message:
        assert "rank-3" in e.value.message


def test_flatten_unflatten():
    assert shape("flatten", {}, (B, 3, H, W)) == (B, 3 * H * W)
    assert shape("flatten", {"start_dim": 0, "end_dim": -2}, (B, T, 8)) == (B * T, 8)
    assert shape("unflatten", {"dim": -1, "sizes": [12, -1]}, (B, T, 768)) == (B, T, 12, 64)
    ctx = Ctx()
    out = shape("unflatten", {"dim": 1, "sizes": [4, -1]}, (B, T, 8), ctx=ctx)
    assert out[2] == floordiv(T, 4) and len(ctx.constraints) == 1
    out, r = run("unflatten", {"dim": -1, "sizes": [2, -1]}, torch.randn(2, 3, 8))
    assert tuple(out.shape) == tuple(r.shape) == (2, 3, 2, 4)


# -- matmul ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a,b", [((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)), ((3, 4), (4, 5)), ((2, 3, 4), (4, 5)),
            ((2, 1, 3, 4), (5, 4, 6)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((3, 4), (2, 4, 5))]
)
def test_matmul_matches_torch(a, b):
    out, r = run("matmul", {}, torch.randn(a), torch.randn(b))
    assert tuple(out.shape) == tuple(r.shape)


def test_matmul_symbolic_and_errors():
    ctx = Ctx()
    assert shape("matmul", {}, (B, 12, T, 64), (B, 12, 64, T), ctx=ctx) == (B, 12, T, T)
    assert ctx.constraints == []
    with pytest.raises(ShapeError) as e:
        infer("matmul", {}, (3, 4), (5, 6))
    assert code_of(e) == "ARC201"
    with pytest.raises(ShapeError) as e:
        infer("matmul", {}, (), (4,))
    assert code_of(e) == "ARC205"


# -- mean / identity ----------------------------------------------------------------------------


def test_mean():
    assert shape("mean", {"dims": [-1, -2]}, (B, 3, H, W)) == (B, 3)
    assert shape("mean", {"dims": 1, "keepdim": True}, (B, T, 8)) == (B, 1, 8)
    out, r = run("mean", {"dims": [-1, 1], "keepdim": True}, torch.randn(2, 3, 4))
    assert tuple(out.shape) == tuple(r.shape)
    with pytest.raises(ShapeError) as e:
        infer("mean", {"dims": 1}, (2, 3), dtypes=["int64"])
    assert code_of(e) == "ARC202"
