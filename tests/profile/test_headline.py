"""`archc profile` leads with per-sample figures, then the batch totals; the training-step memory
estimate (weights, gradients, optimizer state, activations kept for backward) in text and JSON."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

runner = CliRunner()

MLP = """
archc: 1
name: tiny_mlp
symbols:
  B: {example: 4}
inputs:
  x: {shape: [B, 8]}
layers:
  - fc1: {op: linear, out: 16}
  - act: {op: relu}
  - r:   {op: reshape, shape: [-1, 4, 4]}
  - f:   {op: flatten}
  - fc2: {op: linear, out: 2}
outputs:
  y: {from: fc2}
"""


def run(*args):
    r = runner.invoke(app, ["profile", *map(str, args)], env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    return r


def test_resnet50_headline_is_per_sample():
    out = run("specs/resnet50.yaml", "--top", "1").stdout
    lines = [ln for ln in out.splitlines() if ln.startswith(("per sample at", "batch B=2", "total"))]
    # the field's figure for ResNet-50 at 224x224 is 4.09 GMACs per image; the example batch is 2
    assert lines[0].startswith("per sample at H=224, W=224, float32: 25,557,032 params (25.56M), 4.09G MACs")
    assert lines[1] == "batch B=2: 8.18G MACs, 16.43G FLOPs"
    assert not any(ln.startswith("total") for ln in lines)
    assert "batch B=2" in out.splitlines()[0]  # the table's title says the batch


def test_training_memory_terms(write_spec):
    spec = write_spec(MLP)
    doc = json.loads(run(spec, "--json").stdout)
    tr = doc["memory"]["training"]
    w = (8 * 16 + 16 + 16 * 2 + 2) * 4
    assert tr["weights_bytes"] == doc["memory"]["weights_bytes"] == w
    assert tr["gradients_bytes"] == w
    assert tr["optimizer"] == "adam" and tr["optimizer_states_per_param"] == 2 and tr["optimizer_bytes"] == 2 * w
    # the input x and the outputs of fc1, act and fc2 (B=4, float32); reshape and flatten are views of
    # act's storage and keep nothing of their own
    assert tr["saved_activation_bytes"] == 4 * 4 * (8 + 16 + 16 + 2)
    assert doc["activation_bytes"] == 4 * 4 * (16 + 16 + 16 + 16 + 2)
    assert tr["total_bytes"] == w + 0 + w + 2 * w + tr["saved_activation_bytes"]
    assert "per parameter element" in tr["method"]
    assert doc["batch"] == {"symbol": "B", "size": 4}
    sgd = json.loads(run(spec, "--json", "--optimizer", "sgd").stdout)["memory"]["training"]
    assert sgd["optimizer_bytes"] == 0 and sgd["total_bytes"] == tr["total_bytes"] - 2 * w
    text = run(spec).stdout
    assert "memory, training step (static, B=4): weights 712 B + gradients 712 B + Adam state 1.39 KiB" in text
    r = runner.invoke(app, ["profile", spec, "--optimizer", "lion"])
    assert r.exit_code == 2 and "--optimizer must be one of" in r.stderr


def test_resnet50_training_memory_beside_inference():
    doc = json.loads(run("specs/resnet50.yaml", "--json").stdout)
    mem = doc["memory"]
    tr = mem["training"]
    assert tr["total_bytes"] > mem["static_peak_bytes"]
    assert tr["saved_activation_bytes"] > mem["peak_activation_bytes"]
    assert doc["per_sample"]["macs"] == pytest.approx(doc["macs"] / 2)
