"""Norms: feature sizes inferred, static-size requirements, groups, params/buffers per flag."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from archc.ir.dims import sym
from archc.ir.types import ShapeError, TensorType
from archc.ops import OPS, InferContext, load_ops

load_ops()
B, T, H = sym("B"), sym("T"), sym("H")


from tests.ops._support import Ctx  # noqa: E402


def build(name, attrs, shape, dtype="float32"):
    op = OPS[name]
    a = op.attrs.model_validate(attrs)
    t = [TensorType(tuple(shape), dtype)]
    out = op.infer(Ctx(), a, t)
    return op, a, t, out


def err(name, attrs, shape, dtype="float32"):
    with pytest.raises(ShapeError) as e:
        build(name, attrs, shape, dtype)
    return e.value


def test_group_norm_groups():
    e = err("group_norm", {"groups": 3}, (2, 8, 4, 4))
    assert e.code == "ARC204" and "groups=3" in e.message
    assert err("group_norm", {"groups": 2}, (2, H, 4, 4)).code == "ARC204"
    op, a, t, out = build("group_norm", {"groups": 4}, (B, 8, H, H))
    assert out.shape == (B, 8, H, H)
    assert op.params(a, t) == {"weight": (8,), "bias": (8,)}
    op, a, t, out = build("group_norm", {"groups": 4, "affine": False}, (B, 8))
    assert op.params(a, t) == {}


@pytest.mark.parametrize("rank,cls", [(2, nn.BatchNorm1d), (3, nn.BatchNorm1d), (4, nn.BatchNorm2d), (5, nn.BatchNorm3d)])
def test_batch_norm_by_rank(rank, cls):
    shape = (2, 3) + (4,) * (rank - 2)
    op, a, t, out = build("batch_norm", {}, shape)
    mod = op.lower(a, t, out)
    assert type(mod) is cls
    mod.train()
    assert tuple(mod(torch.randn(shape)).shape) == shape


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track", [True, False])
@pytest.mark.parametrize("name", ["batch_norm", "instance_norm"])
def test_stat_norm_params_and_buffers(name, affine, track):
    op, a, t, out = build(name, {"affine": affine, "track_running_stats": track}, (2, 3, 5))
    mod = op.lower(a, t, out)
    assert {n: tuple(p.shape) for n, p in mod.named_parameters()} == op.params(a, t)
    assert {n: tuple(b.shape) for n, b in mod.named_buffers()} == op.buffers(a, t)
    assert ("weight" in op.params(a, t)) == affine
    assert ("running_mean" in op.buffers(a, t)) == track


def test_stat_norm_errors():
    assert err("batch_norm", {}, (8,)).code == "ARC205"
    assert err("batch_norm", {}, (2, 3, 4, 5, 6, 7)).code == "ARC205"
    assert err("batch_norm", {}, (2, H, 4)).code == "ARC204"
    assert err("batch_norm", {}, (2, 3, 4), dtype="int64").code == "ARC202"
    assert err("instance_norm", {}, (2, 3)).code == "ARC205"


def test_layer_norm():
    op, a, t, out = build("layer_norm", {}, (B, T, 768))
    assert out.shape == (B, T, 768) and op.params(a, t) == {"weight": (768,), "bias": (768,)}
    op, a, t, out = build("layer_norm", {"dims": 2, "bias": False}, (B, 4, 6))
    assert op.params(a, t) == {"weight": (4, 6)}
    mod = op.lower(a, [TensorType((2, 4, 6))], out)
    assert {n: tuple(p.shape) for n, p in mod.named_parameters()} == {"weight": (4, 6)}
    op, a, t, out = build("layer_norm", {"elementwise_affine": False}, (B, 8))
    assert op.params(a, t) == {}
    e = err("layer_norm", {}, (B, T))
    assert e.code == "ARC204" and "T" in e.message
    assert err("layer_norm", {"dims": 3}, (2, 3)).code == "ARC205"


def test_rms_norm():
    op, a, t, out = build("rms_norm", {"dims": 2}, (B, 4, 6))
    assert op.params(a, t) == {"weight": (4, 6)}
    mod = op.lower(a, [TensorType((2, 4, 6))], out)
    assert isinstance(mod, nn.RMSNorm) and mod.eps is None
    assert err("rms_norm", {}, (B, T)).code == "ARC204"
