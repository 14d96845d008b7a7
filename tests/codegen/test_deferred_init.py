"""The default weight draw skipped under an init scheme: no weight left undrawn, biases as torch's."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import archc  # noqa: E402
from archc.codegen.deferred_init import deferred_weight_init, finish  # noqa: E402


def test_constructors_are_restored_and_skips_recorded():
    orig = torch.nn.Linear.reset_parameters
    with deferred_weight_init(True) as skipped:
        lin = torch.nn.Linear(16, 4)
        conv = torch.nn.Conv2d(3, 8, 3)
        assert torch.nn.Linear.reset_parameters is not orig
    assert torch.nn.Linear.reset_parameters is orig
    assert [m for m, _ in skipped] == [lin, conv]
    bound = 1 / math.sqrt(16)
    assert lin.bias.abs().max() <= bound and lin.bias.std() > 0     # the bias drawn with torch's bound
    finish(skipped, written={id(conv.weight)})                      # lin's weight was not written:
    assert lin.weight.abs().max() <= bound and lin.weight.std() > 0  # its default reset ran


def test_inactive_is_a_no_op():
    with deferred_weight_init(False) as skipped:
        torch.nn.Linear(4, 4)
    assert skipped == []


SPEC = """
archc: 1
name: tiny
symbols: {B: {example: 2}}
inputs: {x: {shape: [B, 32]}}
init: {seed: 0, scheme: SCHEME, std: 0.02, bias: torch}
layers:
  - fc1: {op: linear, out: 64}
  - act: {op: relu}
  - fc2: {op: linear, out: 8}
outputs: {y: {from: fc2}}
"""


@pytest.mark.parametrize("scheme", ["trunc_normal", "normal", "kaiming_normal"])
def test_scheme_weights_and_torch_biases(tmp_path, scheme):
    p = tmp_path / "tiny.yaml"
    p.write_text(SPEC.replace("SCHEME", scheme))
    m = archc.compile(p)
    w, b = m.fc1.weight.detach(), m.fc1.bias.detach()
    assert torch.isfinite(w).all() and torch.isfinite(b).all()
    if scheme == "trunc_normal":
        assert w.abs().max() <= 0.04 + 1e-7 and 0.012 < w.std() < 0.02
    assert b.abs().max() <= 1 / math.sqrt(32) and b.std() > 0.05    # torch's uniform(+-1/sqrt(fan_in))
    again = archc.compile(p)
    assert torch.equal(again.fc1.weight, m.fc1.weight)              # the seed still decides
