"""archc's truncated normal (inverse CDF, one pass) draws torch's distribution: same bounds, same
moments, same quantiles as `torch.nn.init.trunc_normal_` (which redraws rejected values, ~5x
slower: benchmarks/compile_time.py), and a spec's `init: trunc_normal` uses it."""
from __future__ import annotations

import math

import torch

from archc.codegen.fx import trunc_normal_


def _truncated_std(std: float, k: float) -> float:
    """The standard deviation of N(0, std) truncated to [-k std, k std]."""
    phi = math.exp(-k * k / 2) / math.sqrt(2 * math.pi)
    z = math.erf(k / math.sqrt(2))
    return std * math.sqrt(1 - 2 * k * phi / z)


def test_same_distribution_as_torch():
    std, n = 0.02, 400_000
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    ours = trunc_normal_(torch.empty(n), std=std, a=-2 * std, b=2 * std)
    theirs = torch.nn.init.trunc_normal_(torch.empty(n), std=std, a=-2 * std, b=2 * std, generator=g)
    assert float(ours.min()) >= -2 * std and float(ours.max()) <= 2 * std
    assert abs(float(ours.mean())) < 3 * std / math.sqrt(n)
    assert abs(float(ours.std()) / _truncated_std(std, 2.0) - 1) < 0.01
    q = torch.tensor([0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99], dtype=torch.float64)
    qa, qb = torch.quantile(ours.double(), q), torch.quantile(theirs.double(), q)
    assert float((qa - qb).abs().max()) < 0.01 * std * 4


def test_asymmetric_bounds_and_mean():
    torch.manual_seed(1)
    x = trunc_normal_(torch.empty(100_000), std=1.0, a=0.0, b=3.0, mean=1.0)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 3.0
    # the mean of N(1, 1) truncated to [0, 3] is 1 + (phi(-1) - phi(2)) / (Phi(2) - Phi(-1))
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Phi = lambda z: (1 + math.erf(z / math.sqrt(2))) / 2           # noqa: E731
    want = 1 + (phi(-1) - phi(2)) / (Phi(2) - Phi(-1))
    assert abs(float(x.mean()) - want) < 0.01


def test_a_spec_with_trunc_normal_init_draws_within_its_bounds(tmp_path):
    import archc

    spec = tmp_path / "s.yaml"
    spec.write_text("archc: 1\nname: s\ninit: {scheme: trunc_normal, std: 0.02, seed: 3}\n"
                    "inputs: {x: {shape: [2, 64]}}\nlayers:\n  - fc: {op: linear, out: 512}\n")
    w = archc.compile(spec).state_dict()["fc.weight"]
    assert float(w.abs().max()) <= 0.04 and abs(float(w.std()) / _truncated_std(0.02, 2.0) - 1) < 0.03
    assert torch.equal(w, archc.compile(spec).state_dict()["fc.weight"])    # seeded
