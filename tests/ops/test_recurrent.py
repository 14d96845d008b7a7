"""rnn, lstm, gru: parameter names and outputs equal torch's nn.RNN / nn.LSTM / nn.GRU; shapes
(batch_first or not, bidirectional, stacked); multi-output refs through `archc.compile`."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import archc
from archc.ir.dims import sym
from archc.ir.types import ShapeError, TensorType
from archc.ops import OPS, load_ops

load_ops()
B, T = sym("B"), sym("T")
TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def build(name, attrs, shape):
    op = OPS[name]
    a = op.attrs.model_validate(attrs)
    types = [TensorType(tuple(shape))]
    out = op.infer(None, a, types)
    return a, types, out, op.lower(a, types, out)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers, bidirectional, batch_first, bias", [
    (1, False, True, True), (2, True, True, True), (3, False, False, False), (2, True, False, True),
])
def test_matches_torch(name, layers, bidirectional, batch_first, bias):
    torch.manual_seed(0)
    attrs = {"hidden": 6, "layers": layers, "bidirectional": bidirectional, "batch_first": batch_first, "bias": bias}
    shape = (3, 5, 4) if batch_first else (5, 3, 4)
    a, types, outs, mod = build(name, attrs, shape)
    ref = TORCH[name](4, 6, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    assert isinstance(mod, TORCH[name])
    assert {k: tuple(v.shape) for k, v in mod.state_dict().items()} == {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert OPS[name].params(a, types) == {k: tuple(v.shape) for k, v in ref.named_parameters()}
    mod.load_state_dict(ref.state_dict())
    x = torch.randn(shape)
    with torch.no_grad():
        got = mod.eval()(x)
        out, state = ref.eval()(x)
    want = [out, *state] if name == "lstm" else [out, state]
    assert len(got) == len(want) == len(outs)
    for g, w, t in zip(got, want, outs):
        assert torch.equal(g, w) and tuple(g.shape) == tuple(t.shape)


def test_rnn_relu():
    _, _, _, mod = build("rnn", {"hidden": 3, "nonlinearity": "relu"}, (2, 4, 5))
    assert mod.nonlinearity == "relu"
    with pytest.raises(Exception):
        OPS["lstm"].attrs.model_validate({"hidden": 3, "nonlinearity": "relu"})


def test_symbolic_shapes():
    out, h, c = OPS["lstm"].infer(None, OPS["lstm"].attrs.model_validate({"hidden": 8, "layers": 2, "bidirectional": True}),
                                  [TensorType((B, T, 4))])
    assert out.shape == (B, T, 16) and h.shape == c.shape == (4, B, 8)
    out, h = OPS["gru"].infer(None, OPS["gru"].attrs.model_validate({"hidden": 8, "batch_first": False}),
                              [TensorType((T, B, 4))])
    assert out.shape == (T, B, 8) and h.shape == (1, B, 8)


@pytest.mark.parametrize("shape, dtype, code", [((2, 5), "float32", "ARC205"), ((2, 5, 4), "int64", "ARC202"),
                                                ((2, 5, T), "float32", "ARC204")])
def test_errors(shape, dtype, code):
    with pytest.raises(ShapeError) as e:
        OPS["gru"].infer(None, OPS["gru"].attrs.model_validate({"hidden": 3}), [TensorType(shape, dtype)])
    assert e.value.code == code


def test_dropout_between_layers():
    _, _, _, mod = build("lstm", {"hidden": 3, "layers": 2, "dropout": 0.3}, (2, 4, 5))
    assert mod.dropout == 0.3
    _, _, _, mod = build("lstm", {"hidden": 3, "dropout": 0.3}, (2, 4, 5))
    assert mod.dropout == 0.0  # one layer: nothing to drop between


def test_multi_output_refs_compile(tmp_path):
    p = tmp_path / "seq.yaml"
    p.write_text("""
archc: 1
name: seq
symbols:
  B: {example: 2}
  T: {example: 5}
inputs:
  x: {shape: [B, T, 4]}
layers:
  - encoder: {op: lstm, hidden: 6, layers: 2, bidirectional: true}
  - last: {op: select, dim: 0, index: -1, from: "encoder[1]"}
  - head: {op: linear, out: 3, from: last}
outputs:
  seq: encoder
  cell: "encoder[2]"
  logits: head
""")
    gm = archc.compile(p)
    keys = set(gm.state_dict())
    assert "encoder.weight_ih_l0" in keys and "encoder.weight_hh_l1_reverse" in keys and "head.weight" in keys
    x = torch.randn(3, 7, 4)
    seq, cell, logits = gm(x)
    assert seq.shape == (3, 7, 12) and cell.shape == (4, 3, 6) and logits.shape == (3, 3)
    with torch.no_grad():
        out, (h, c) = nn.LSTM.forward(gm.encoder, x)
    torch.testing.assert_close(seq, out)
    torch.testing.assert_close(logits, gm.head(h[-1]))
