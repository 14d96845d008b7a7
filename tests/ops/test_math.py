"""Elementwise math (archc.ops.math, add/mul): broadcasting, number operands, dtype rules, lowering
against torch's own results."""
from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from archc.ir.dims import sym
from archc.ir.types import ScalarType, ShapeError, TensorType, scalar_type
from archc.ops import OPS, Call, load_ops
from tests.ops._support import Ctx

load_ops()
B, H, W = sym("B"), sym("H"), sym("W")
BINARY = ["add", "mul", "sub", "div", "pow", "minimum", "maximum", "eq", "ne", "lt", "le", "gt", "ge"]
TORCH = {"float32": torch.float32, "float16": torch.float16, "float64": torch.float64, "int64": torch.int64,
         "int32": torch.int32, "bool": torch.bool, "bfloat16": torch.bfloat16}


def T(shape, dtype="float32"):
    return TensorType(tuple(shape), dtype)


def infer(name, ins, attrs=None, ctx=None):
    op = OPS[name]
    return op.infer(ctx or Ctx(), op.attrs.model_validate(attrs or {}), ins)


def execute(name, ins, attrs=None):
    """Lower `name` over `ins` (tensors made from the types, numbers as they are) and run it as
    codegen does: a number is a constant argument at its operand's position."""
    op = OPS[name]
    a = op.attrs.model_validate(attrs or {})
    out = op.infer(Ctx(), a, ins)
    call = op.lower(a, ins, out)
    assert isinstance(call, Call)
    torch.manual_seed(0)
    args = []
    for t in ins:
        if isinstance(t, ScalarType):
            args.append(t.value)
        elif t.dtype == "bool":
            args.append(torch.rand(t.shape) > 0.5)
        elif t.dtype.startswith("int"):
            args.append(torch.randint(1, 5, t.shape, dtype=TORCH[t.dtype]))
        else:
            args.append(torch.rand(t.shape, dtype=TORCH[t.dtype]) + 0.5)
    y = call.fn(*args, *call.extra_args, **call.kwargs)
    assert tuple(y.shape) == tuple(out.shape), (name, y.shape, out)
    assert y.dtype == TORCH[out.dtype], (name, y.dtype, out.dtype)
    return out, y, args


@pytest.mark.parametrize("name", BINARY)
def test_broadcasting_symbolic(name):
    out = infer(name, [T((B, 3, H, W)), T((3, 1, 1))])
    assert out.shape == (B, 3, H, W)
    assert infer(name, [T((B, 1, W)), T((B, H, 1))]).shape == (B, H, W)
    ctx = Ctx({"B": 2, "H": 4, "W": 4})
    infer(name, [T((B, H)), T((B, W))], ctx=ctx)          # equal at the example sizes: required equal
    assert [c[:2] for c in ctx.constraints] == [(H, W)]
    with pytest.raises(ShapeError) as e:
        infer(name, [T((B, H)), T((B, W))], ctx=Ctx({"B": 2, "H": 4, "W": 5}))
    assert e.value.code == "ARC201"
    with pytest.raises(ShapeError) as e:
        infer(name, [T((2, 3)), T((2, 4))], ctx=Ctx())
    assert e.value.code == "ARC201"


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("dtype", ["float32", "int64", "float16"])
@pytest.mark.parametrize("number", [2, 0.5])
@pytest.mark.parametrize("first", [False, True])
def test_number_operands_follow_torch_promotion(name, dtype, number, first):
    if name == "pow" and dtype == "float16":
        pytest.skip("pow on float16 is not implemented on CPU")
    x, s = T((2, 3), dtype), scalar_type(number)
    _, y, args = execute(name, [s, x] if first else [x, s])
    a, b = args
    want = {"add": torch.add, "mul": torch.mul, "sub": torch.sub, "div": torch.div, "pow": torch.pow,
            "minimum": lambda a, b: torch.minimum(torch.as_tensor(a), torch.as_tensor(b)),
            "maximum": lambda a, b: torch.maximum(torch.as_tensor(a), torch.as_tensor(b))}
    if name in want and name not in ("minimum", "maximum"):
        ref = want[name](a, b)
        assert ref.dtype == y.dtype
        torch.testing.assert_close(y, ref)
    elif name in ("minimum", "maximum"):
        t = a if torch.is_tensor(a) else b
        ref = (torch.clamp_min if name == "maximum" else torch.clamp_max)(t, number)
        assert ref.dtype == y.dtype and torch.equal(y, ref)
    else:  # comparisons: `number < tensor` as python evaluates it
        import operator

        ref = getattr(operator, name)(a, b)
        assert y.dtype == torch.bool and torch.equal(y, ref)


def test_promotion_table():
    f, i, b, h = T((4,)), T((4,), "int64"), T((4,), "bool"), T((4,), "float16")
    cases = [
        ("mul", [i, scalar_type(0.5)], "float32"), ("mul", [i, scalar_type(2)], "int64"),
        ("add", [b, scalar_type(1)], "int64"), ("add", [h, scalar_type(0.5)], "float16"),
        ("add", [scalar_type(3), h], "float16"), ("div", [i, scalar_type(2)], "float32"),
        ("div", [i, i], "float32"), ("pow", [i, scalar_type(2)], "int64"), ("pow", [scalar_type(2.0), i], "float32"),
        ("lt", [i, scalar_type(0.5)], "bool"), ("maximum", [i, scalar_type(0.5)], "float32"),
        ("where", [b, i, scalar_type(0.5)], "float32"), ("where", [b, scalar_type(1), scalar_type(0)], "int64"),
        ("where", [b, scalar_type(1.0), scalar_type(0)], "float32"),
    ]
    for name, ins, want in cases:
        assert infer(name, ins).dtype == want, (name, ins)
        out, y, _ = execute(name, ins)
        assert y.dtype == TORCH[want]


@pytest.mark.parametrize("name, ins, code", [
    ("add", [scalar_type(1), scalar_type(2)], "ARC102"),
    ("sub", [scalar_type(1.0), scalar_type(2)], "ARC102"),
    ("add", [T((4,)), T((4,), "float16")], "ARC202"),
    ("sub", [T((4,), "bool"), scalar_type(1)], "ARC202"),
    ("pow", [T((4,), "int64"), scalar_type(-1)], "ARC202"),
    ("where", [scalar_type(1), T((4,)), T((4,))], "ARC102"),
    ("where", [T((4,)), T((4,)), T((4,))], "ARC202"),
    ("lt", [T((4,), "int64"), T((4,))], "ARC202"),
])
def test_refused_operands(name, ins, code):
    with pytest.raises(ShapeError) as e:
        infer(name, ins)
    assert e.value.code == code and e.value.hint


def test_pow_negative_integer_power_is_what_torch_refuses():
    with pytest.raises(RuntimeError, match="negative integer powers"):
        torch.pow(torch.tensor([2]), -1)
    assert infer("pow", [T((4,), "int64"), scalar_type(-1.0)]).dtype == "float32"
    assert infer("pow", [T((4,)), scalar_type(-1)]).dtype == "float32"


def test_where_broadcasts_three_ways():
    out, y, (c, a, b) = execute("where", [T((2, 1, 4), "bool"), T((3, 1)), scalar_type(-1.0)])
    assert out.shape == (2, 3, 4)
    assert torch.equal(y, torch.where(c, a, -1.0))


@pytest.mark.parametrize("name, ref", [
    ("neg", torch.neg), ("abs", torch.abs), ("exp", torch.exp), ("log", torch.log), ("sqrt", torch.sqrt),
    ("rsqrt", torch.rsqrt), ("sin", torch.sin), ("cos", torch.cos),
])
def test_unary(name, ref):
    out, y, (x,) = execute(name, [T((2, 3))])
    torch.testing.assert_close(y, ref(x))
    assert infer(name, [T((B, H, 3))]).shape == (B, H, 3)
    if name in ("neg", "abs"):
        assert infer(name, [T((2,), "int64")]).dtype == "int64"
        bad = "bool"
    else:
        bad = "int64"
    with pytest.raises(ShapeError) as e:
        infer(name, [T((2,), bad)])
    assert e.value.code == "ARC202"


def test_clamp():
    out, y, (x,) = execute("clamp", [T((2, 5))], {"min": 0.6, "max": 1.2})
    torch.testing.assert_close(y, torch.clamp(x, 0.6, 1.2))
    _, y, (x,) = execute("clamp", [T((2, 5))], {"max": 1})
    assert torch.equal(y, torch.clamp(x, max=1))
    assert infer("clamp", [T((3,), "int64")], {"min": 0.5}).dtype == "float32"   # as torch.clamp
    assert infer("clamp", [T((3,), "int64")], {"min": 0, "max": 6}).dtype == "int64"
    with pytest.raises(ValidationError, match="needs `min`, `max` or both"):
        OPS["clamp"].attrs.model_validate({})
    with pytest.raises(ValidationError):
        OPS["clamp"].attrs.model_validate({"min": True})


@pytest.mark.parametrize("src, to", [("float32", "float16"), ("float32", "int64"), ("int64", "float32"),
                                     ("bool", "float32"), ("float16", "bfloat16")])
def test_cast(src, to):
    out, y, (x,) = execute("cast", [T((2, 3), src)], {"to": to})
    assert out.dtype == to and torch.equal(y, x.to(TORCH[to]))
    assert infer("cast", [T((B, H), src)], {"to": to}) == T((B, H), to)
    with pytest.raises(ValidationError):
        OPS["cast"].attrs.model_validate({"to": "float8"})


def test_costs_count_number_operands():
    from types import SimpleNamespace

    from archc.ops._cost import Cost

    out = T((2, 3, 4))
    node = SimpleNamespace(out=out, outputs=[out], scalars={1: 0.5}, attrs=None)
    assert OPS["mul"].cost(node, [out], {}) == Cost(0, 24)         # x * 0.5: one multiply per element
    assert OPS["sub"].cost(node, [out], {}) == Cost(0, 24)
    plain = SimpleNamespace(out=out, outputs=[out], attrs=None)
    assert OPS["add"].cost(plain, [out, out, out], {}) == Cost(0, 48)
    clamp = SimpleNamespace(out=out, attrs=OPS["clamp"].attrs.model_validate({"min": 0}))
    assert OPS["clamp"].cost(clamp, [out], {}) == Cost(0, 24)
