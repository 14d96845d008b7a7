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


def infer(name, attrs, shape, dtype="float32"):
    op = OPS[name]
    return op.infer(None, op.attrs.model_validate(attrs), [TensorType(tuple(shape), dtype)])


@pytest.mark.parametrize("name", ACTS)
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
