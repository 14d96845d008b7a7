"""Generated source (`archc.codegen.pysource`): each module is written as the constructor call the
op's lowering made (recorded by `archc.codegen.constructors`, never guessed and `eval`-ed); a module
changed after lowering is restored as it is."""
from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import archc
from archc.codegen import pysource
from archc.codegen.constructors import lowered_construction, record_constructions
from archc.ops import OPS, load_ops
from tests.ops._support import Ctx
from tests.ops.test_ops import example_types, make_inputs, parse_attrs

load_ops()


def _lowered(name):
    op = OPS[name]
    attrs, types = parse_attrs(op), example_types(op)
    out = op.infer(Ctx(), attrs, types)
    return op, attrs, types, out


MODULE_OPS = [n for n in sorted(OPS) if isinstance(OPS[n].lower(*_lowered(n)[1:]), nn.Module)]


def test_some_ops_lower_to_modules():
    assert {"conv2d", "linear", "attention", "lstm", "batch_norm"} <= set(MODULE_OPS)


@pytest.mark.parametrize("name", MODULE_OPS)
def test_the_recorded_call_rebuilds_the_module(name):
    op, attrs, types, out = _lowered(name)
    module, calls = record_constructions(lambda: op.lower(attrs, types, out))
    c = calls[id(module)]
    assert c.module is module and c.cls is type(module)
    again = c.cls(*c.positional, **dict(c.keywords))
    assert repr(again) == repr(module)
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in module.state_dict().items()}
    again.load_state_dict(module.state_dict())
    module.eval(), again.eval()
    ins = make_inputs(op, types)
    with torch.no_grad():
        a, b = module(*ins), again(*ins)
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        assert torch.equal(x, y)


def test_arguments_are_the_lowerings():
    gm = archc.compile("specs/resnet18.yaml", {"H": 48, "W": 48}, device="meta")
    c = lowered_construction(gm.archc_graph, gm.archc_graph.node("conv1"))
    assert c.cls is nn.Conv2d and c.positional == (3, 64, (7, 7))
    kw = dict(c.keywords)
    assert kw["stride"] == (2, 2) and kw["padding"] == 3 and kw["bias"] is False
    text = pysource.generate(gm, gm.archc_graph)
    assert "self.conv1 = nn.Conv2d(3, 64, (7, 7), stride=(2, 2), padding=3, dilation=(1, 1), bias=False)" in text
    assert "self.bn1 = nn.BatchNorm2d(64)\n" in text  # arguments equal to their defaults are left out
    assert "_restore(" not in text


def test_no_eval_in_generation():
    src = inspect.getsource(pysource)
    assert "eval(" not in src.replace(".eval()", "") and "exec(" not in src


def test_a_module_changed_after_lowering_is_restored_as_it_is(tmp_path):
    from archc.export.formats.source import import_file
    from archc.export.formats.state_dict import save
    from archc.export.verify import make_inputs as inputs_of

    gm = archc.compile("specs/mlp.yaml")
    gm.head = nn.Linear(256, 10, bias=False)  # not what the spec's lowering builds
    text = pysource.generate(gm, gm.archc_graph)
    assert "self.head = _restore(nn.Linear, " in text and "def _restore(" in text
    (tmp_path / "model.py").write_text(text)
    save(gm, gm.archc_graph, str(tmp_path / "model.safetensors"), {})
    model = import_file(str(tmp_path / "model.py")).load()
    assert model.head.bias is None
    ins = inputs_of(gm.archc_graph, {"B": 3}, "float32")
    with torch.no_grad():
        assert torch.equal(model(*ins.values()), gm(*ins.values()))
