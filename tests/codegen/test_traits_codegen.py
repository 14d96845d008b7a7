"""Codegen reads op traits, not torch classes: the in-place pass (`Traits.inplace`,
`Traits.overwritable`, `Call.inplace`) and the spec's `init:` (`Traits.init`). Each test changes
one built-in's traits (restored afterwards) and checks the compiled module follows them."""
from __future__ import annotations

import operator
from dataclasses import replace

import pytest
import torch

from archc.codegen.fx import lower
from archc.ops import OPS, load_ops
from archc.pipeline import elaborate


@pytest.fixture(scope="module")
def resnet18():
    return elaborate("specs/resnet18.yaml")


def _set(monkeypatch, name: str, **traits) -> None:
    load_ops()
    op = OPS[name]
    monkeypatch.setitem(OPS, name, replace(op, traits=replace(op.traits, **traits)))


def _targets(gm) -> list:
    return [n.target for n in gm.graph.nodes if n.op == "call_function"]


def test_every_node_records_its_op(resnet18):
    gm = lower(resnet18, device="meta")
    ops = {n.name: n.meta.get("archc_op") for n in gm.graph.nodes if n.op in ("call_module", "call_function")}
    assert ops["conv1"] == "conv2d" and ops["layer1_0_relu1"] == "relu" and ops["layer1_0_add"] == "add"


def test_in_place_follows_the_traits(resnet18, monkeypatch):
    t = _targets(lower(resnet18, device="meta"))
    assert torch.relu_ in t and operator.iadd in t
    _set(monkeypatch, "relu", inplace=False)
    t = _targets(lower(resnet18, device="meta"))
    assert torch.relu_ not in t and operator.iadd in t
    monkeypatch.undo()
    # batch_norm's output no longer overwritable: no relu after a bn runs in place and no residual
    # sum (its first input is bn2), but the relus after the sums (add is still overwritable) do
    _set(monkeypatch, "batch_norm", overwritable=False)
    gm = lower(resnet18, device="meta")
    for n in gm.graph.nodes:
        if n.target is torch.relu_:
            assert n.args[0].meta["archc_op"] == "add", n.name
    assert torch.relu_ in _targets(gm)
    assert operator.iadd not in _targets(gm)


def test_init_follows_the_trait(monkeypatch):
    g = elaborate("specs/mlp.yaml")
    g.init = g.init.model_copy(update={"scheme": "normal", "std": 0.5, "bias": "zeros"})
    sd = lower(g).state_dict()
    assert 0.45 < float(sd["head.weight"].std()) < 0.55 and not sd["head.bias"].any()
    _set(monkeypatch, "linear", init=False)
    sd = lower(g).state_dict()
    assert float(sd["head.weight"].std()) < 0.3 and sd["head.bias"].any()  # torch's default U(+-1/sqrt(fan_in))
