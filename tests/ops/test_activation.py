"""Activations and linear: dtype checks, softmax dims, attribute validation, symbolic dims."""
from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from archc.ir.dims import sym
from archc.ir.types import ShapeError, TensorType
from archc.ops import OPS, Call, load_ops

load_ops()
B, T = sym("B"), sym("T")
ACTS = sorted(n for n, op in OPS.items() if op.family == "activation")
SHAPED = {"prelu", "glu"}  # a learned slope; a halved dim: tested below


def infer(name, attrs, shape, dtype="float32"):
    op = OPS[name]
    return op.infer(None, op.attrs.model_validate(attrs), [TensorType(tuple(shape), dtype)])


@pytest.mark.parametrize("name", sorted(set(ACTS) - SHAPED))
def test_activation_shape_identity_and_call(name):
    op = OPS[name]
    a = op.attrs.model_validate({})
    t = [TensorType((B, T, 8))]
    assert op.infer(None, a, t) == t[0]
    assert isinstance(op.lower(a, t, t[0]), Call) and op.params is None


def test_dtypes():
    assert infer("relu", {}, (2, 3), "int64").dtype == "int64"
    with pytest.raises(ShapeError) as e:
        infer("sigmoid", {}, (2, 3), "int64")
    assert e.value.code == "ARC202"


def test_softmax_dim_and_gelu_mode():
    assert infer("softmax", {"dim": -3}, (2, 3, 4)).shape == (2, 3, 4)
    with pytest.raises(ShapeError) as e:
        infer("softmax", {"dim": -4}, (2, 3, 4))
    assert e.value.code == "ARC204" and "rank-3" in e.value.message
    with pytest.raises(ValidationError):
        OPS["gelu"].attrs.model_validate({"approximate": "erf"})
    op = OPS["gelu"]
    a = op.attrs.model_validate({"approximate": "tanh"})
    x = torch.randn(3, 4)
    call = op.lower(a, [TensorType((3, 4))], None)
    torch.testing.assert_close(call.fn(x, **call.kwargs), torch.nn.functional.gelu(x, approximate="tanh"))


def test_linear():
    op = OPS["linear"]
    a = op.attrs.model_validate({"out": 16, "bias": False})
    assert op.infer(None, a, [TensorType((8,))]).shape == (16,)
    assert op.infer(None, a, [TensorType((B, T, 8))]).shape == (B, T, 16)
    assert op.params(a, [TensorType((B, 8))]) == {"weight": (16, 8)}
    with pytest.raises(ShapeError) as e:
        op.infer(None, a, [TensorType((B, T))])
    assert e.value.code == "ARC204"
    with pytest.raises(ShapeError) as e:
        op.infer(None, a, [TensorType(())])
    assert e.value.code == "ARC205"
    with pytest.raises(ValidationError):
        op.attrs.model_validate({"out": 0})
    mod = op.lower(a, [TensorType((2, 8))], None)
    assert tuple(mod(torch.randn(5, 8)).shape) == (5, 16) and mod.bias is None


def run(name, attrs, x):
    op = OPS[name]
    a = op.attrs.model_validate(attrs)
    t = TensorType(tuple(x.shape), str(x.dtype).removeprefix("torch."))
    out = op.infer(None, a, [t])
    low = op.lower(a, [t], out)
    y = low.fn(x, **low.kwargs) if isinstance(low, Call) else low.eval()(x)
    assert tuple(y.shape) == tuple(out.shape) and str(y.dtype) == f"torch.{out.dtype}"
    return y


@pytest.mark.parametrize("name, attrs, ref", [
    ("relu6", {}, lambda x: torch.nn.ReLU6()(x)),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}, lambda x: torch.nn.Hardtanh(-0.5, 2.0)(x)),
    ("hardsigmoid", {}, lambda x: torch.nn.Hardsigmoid()(x)),
    ("elu", {"alpha": 0.3}, lambda x: torch.nn.ELU(0.3)(x)),
    ("selu", {}, lambda x: torch.nn.SELU()(x)),
    ("celu", {"alpha": 2.0}, lambda x: torch.nn.CELU(2.0)(x)),
    ("softplus", {"beta": 2.0, "threshold": 5.0}, lambda x: torch.nn.Softplus(2.0, 5.0)(x)),
    ("softsign", {}, lambda x: torch.nn.Softsign()(x)),
    ("quick_gelu", {}, lambda x: x * torch.sigmoid(1.702 * x)),
    ("log_softmax", {"dim": 1}, lambda x: torch.log_softmax(x, 1)),
    ("glu", {"dim": 1}, lambda x: torch.nn.GLU(1)(x)),
])
def test_values_against_torch_modules(name, attrs, ref):
    x = torch.randn(3, 6, 5) * 4
    torch.testing.assert_close(run(name, attrs, x), ref(x))


def test_relu6_and_hardtanh_keep_integers():
    x = torch.arange(-8, 9).reshape(1, -1)
    assert torch.equal(run("relu6", {}, x), x.clamp(0, 6))
    assert run("hardtanh", {}, x).dtype == torch.int64
    with pytest.raises(ShapeError) as e:
        infer("elu", {}, (2, 3), "int64")
    assert e.value.code == "ARC202"


def test_attribute_rules():
    for name, attrs in [("hardtanh", {"min_val": 1.0, "max_val": 1.0}), ("celu", {"alpha": 0.0}),
                        ("softplus", {"beta": 0.0}), ("prelu", {"num_parameters": 3}), ("glu", {"dim": 1.5})]:
        with pytest.raises(ValidationError):
            OPS[name].attrs.model_validate(attrs)


def test_prelu_parameters_match_torch():
    op = OPS["prelu"]
    C, H = sym("C"), sym("H")
    one = op.attrs.model_validate({})
    per = op.attrs.model_validate({"num_parameters": "channels", "init": 0.1})
    assert op.params(one, [TensorType((B, 16, H, H))]) == {"weight": (1,)}
    assert op.params(per, [TensorType((B, 16, H, H))]) == {"weight": (16,)}
    assert op.infer(None, per, [TensorType((B, 16, H))]).shape == (B, 16, H)
    mod = op.lower(per, [TensorType((2, 16, 4))], None)
    assert isinstance(mod, torch.nn.PReLU) and list(mod.state_dict()) == ["weight"]
    assert torch.equal(mod.weight, torch.full((16,), 0.1))
    x = torch.randn(2, 16, 4)
    torch.testing.assert_close(mod(x), torch.where(x > 0, x, 0.1 * x))
    for shape, code in [((B, C, 4), "ARC204"), ((16,), "ARC205")]:
        with pytest.raises(ShapeError) as e:
            op.infer(None, per, [TensorType(shape)])
        assert e.value.code == code
    assert op.infer(None, one, [TensorType((16,))]).shape == (16,)  # one slope: any rank


def test_glu_halves_and_refuses_odd():
    from tests.ops._support import Ctx

    assert infer("glu", {"dim": 1}, (B, 8, T)).shape == (B, 4, T)
    with pytest.raises(ShapeError) as e:
        infer("glu", {}, (B, T, 7))
    assert e.value.code == "ARC204" and "odd size 7" in e.value.message
    ctx = Ctx({"B": 2, "T": 6})
    out = OPS["glu"].infer(ctx, OPS["glu"].attrs.model_validate({}), [TensorType((B, T))])
    from archc.ir.dims import evaluate

    assert evaluate(out.shape[1], {"T": 6}) == 3 and evaluate(out.shape[1], {"T": 10}) == 5
    assert ctx.constraints and "even" in ctx.constraints[0][2]
    with pytest.raises(ShapeError):
        OPS["glu"].infer(Ctx({"B": 2, "T": 7}), OPS["glu"].attrs.model_validate({}), [TensorType((B, T))])


def test_flops_per_element_cover_every_activation():
    from archc.ops.activation import FLOPS_PER_ELEMENT

    assert set(ACTS) - {"glu"} <= set(FLOPS_PER_ELEMENT) and "glu" not in FLOPS_PER_ELEMENT
