"""A compiled module with several outputs returns them as the model's NamedTuple (indexable like
a tuple, and named), takes its inputs as keywords, and every exporter accepts it; a module with
one output returns the tensor."""
from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import pytest
import torch

import archc
from archc.codegen.fx import tuple_outputs
from tests.conftest import ROOT

TWO = """\
archc: 1
name: two_heads
symbols: {B: {example: 2}}
inputs:
  x: {shape: [B, 8]}
  y: {shape: [B, 3]}
layers:
  - fc: {op: linear, out: 16, from: x}
  - act: {op: relu}
  - a: {op: linear, out: 4, from: act}
  - b: {op: linear, out: 3, from: act}
  - s: {op: add, from: [b, y]}
outputs:
  logits: a
  score: {from: s, kind: regression}
"""


@pytest.fixture
def two(tmp_path):
    p = tmp_path / "two.yaml"
    p.write_text(TWO)
    return p


def _xy(b=2):
    torch.manual_seed(0)
    return torch.randn(b, 8), torch.randn(b, 3)


def test_several_outputs_are_named_and_inputs_are_keywords(two):
    m = archc.compile(two)
    x, y = _xy()
    out = m(y=y, x=x)                           # keywords, in any order
    assert type(out).__name__ == "TwoHeadsOutputs" and isinstance(out, tuple)
    assert out._fields == ("logits", "score")
    assert out.logits.shape == (2, 4) and out.score.shape == (2, 3)
    a, b = m(x, y)                              # still a tuple: unpacking and indexing
    assert torch.equal(a, out[0]) and torch.equal(b, out.score)
    assert repr(out).startswith("TwoHeadsOutputs(logits=tensor(")
    assert "TwoHeadsOutputs" in m.code


def test_bert_returns_its_fields_by_name():
    m = archc.compile(ROOT / "specs/bert_base.yaml", variant="small")
    ids = torch.randint(0, 1000, (2, 8))
    out = m(input_ids=ids, token_type_ids=torch.zeros_like(ids), attention_mask=torch.ones_like(ids))
    assert out._fields == ("last_hidden_state", "pooler_output")
    assert out.last_hidden_state.shape == (2, 8, 64) and out.pooler_output.shape == (2, 64)


def test_one_output_is_a_tensor():
    out = archc.compile(ROOT / "specs/mlp.yaml")(**{k: torch.zeros(2, *v.type.shape[1:]) for k, v in
                                                   archc.infer(ROOT / "specs/mlp.yaml").inputs.items()})
    assert isinstance(out, torch.Tensor)


def test_names_that_cannot_be_fields_keep_a_plain_tuple(tmp_path):
    p = tmp_path / "kw.yaml"
    p.write_text(TWO.replace("logits: a", "class: a"))
    out = archc.compile(p)(*_xy())
    assert type(out) is tuple and len(out) == 2


def test_the_outputs_unpickle_in_a_process_that_never_compiled_the_model(two):
    out = archc.compile(two)(*_xy())
    code = "import pickle, sys; o = pickle.loads(sys.stdin.buffer.read()); print(type(o).__name__, *o._fields, o.score.shape[1])"
    r = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(out), capture_output=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().split() == ["TwoHeadsOutputs", "logits", "score", "3"]


def test_torchscript_keeps_the_names(two, tmp_path):
    m = archc.compile(two)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm = torch.jit.script(m)
        sm.save(str(tmp_path / "m.pt"))
        out = torch.jit.load(str(tmp_path / "m.pt"))(*_xy())
    assert out._fields == ("logits", "score")
    assert torch.equal(out.logits, m(*_xy()).logits)


def test_torch_export_of_the_module_and_of_its_tuple_view(two, tmp_path):
    m = archc.compile(two)
    args = _xy()
    ep = torch.export.export(m, args, strict=False)           # a user's own export: named outputs serialise
    torch.export.save(ep, tmp_path / "named.pt2")
    assert torch.export.load(tmp_path / "named.pt2").module()(*args).logits.shape == (2, 4)
    flat = tuple_outputs(m)                                    # what archc's pt2 traces: loads anywhere
    assert type(flat(*args)) is tuple and dict(flat.named_parameters()).keys() == dict(m.named_parameters()).keys()
    assert all(torch.equal(p, q) for p, q in zip(flat(*args), m(*args)))
    mlp = archc.compile(ROOT / "specs/mlp.yaml")
    assert tuple_outputs(mlp) is mlp                           # one output: nothing to flatten


def test_build_verifies_every_format_with_named_outputs(two, tmp_path):
    res = archc.api.build(two, str(tmp_path / "out"), emit=["pt2", "torchscript", "source", "state_dict"])
    assert not [d for d in res.diagnostics if d.severity == "error"], res.diagnostics
    code = ("import sys, torch; sys.path.insert(0, sys.argv[1]); import model; m = model.load();"
            "o = m(torch.zeros(2, 8), torch.zeros(2, 3)); print(type(o).__name__, *o._fields);"
            "p = torch.export.load(sys.argv[1] + '/model.pt2').module(); print(type(p(torch.zeros(2, 8), torch.zeros(2, 3))).__name__)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["TwoHeadsOutputs", "logits", "score", "tuple"]
