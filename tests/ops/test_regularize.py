"""dropout / drop_path: modules that .eval() turns off; p validated."""
from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from archc.ir.types import TensorType
from archc.ops import OPS, load_ops
from archc.ops._modules import DropPath

load_ops()


@pytest.mark.parametrize("name", ["dropout", "drop_path"])
@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_p_validated(name, p):
    with pytest.raises(ValidationError):
        OPS[name].attrs.model_validate({"p": p})


def lower(name, p, shape=(4, 3, 5)):
    op = OPS[name]
    a = op.attrs.model_validate({"p": p})
    t = [TensorType(shape)]
    return op.lower(a, t, op.infer(None, a, t))


def test_dropout_module():
    mod = lower("dropout", 0.5)
    assert isinstance(mod, nn.Dropout) and mod.p == 0.5
    x = torch.randn(4, 3, 5)
    assert torch.equal(mod.eval()(x), x)


def test_drop_path_train_and_eval():
    torch.manual_seed(0)
    mod = lower("drop_path", 0.5, (64, 3, 5))
    assert isinstance(mod, DropPath)
    x = torch.ones(64, 3, 5)
    y = mod.train()(x)
    per_sample = y.flatten(1)
    # every sample is either dropped entirely or kept and scaled by 1/(1-p)
    assert all(torch.all(r == 0) or torch.allclose(r, torch.full_like(r, 2.0)) for r in per_sample)
    kept = sum(bool(r.any()) for r in per_sample)
    assert 0 < kept < 64
    assert torch.equal(mod.eval()(x), x)
    assert torch.equal(lower("drop_path", 0.0).train()(x), x)
    assert "p=0.5" in repr(mod)
