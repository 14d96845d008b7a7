"""Regressions from specs written outside the zoo (issue 11, item 5): export ranges, ARC510's cause
and node, a failed build's output folder."""
from __future__ import annotations

import textwrap

import pytest

from archc.export import build
from archc.export.dynamic import SymbolPlan, guard_holds, narrow
from archc.pipeline import run

pytest.importorskip("torch")

# a conv with kernel and stride 32, then a permute and a layer norm: torch.export guards
# `(H // 32) != 1` and the plain lower bound `32 <= H and H <= IntInfinity()`
PATCHES = textwrap.dedent("""\
    archc: 1
    name: patches
    symbols:
      B: {example: 2, min: 1}
      H: {example: 64}
      W: {example: 64}
    inputs:
      x: {shape: [B, 3, H, W], dtype: float32}
    layers:
      - patch: {op: conv2d, out: 8, kernel: 32, stride: 32}
      - perm: {op: permute, dims: [0, 2, 3, 1]}
      - ln: {op: layer_norm}
    outputs:
      y: ln
    """)


@pytest.fixture
def patches(tmp_path):
    p = tmp_path / "patches.yaml"
    p.write_text(PATCHES)
    return p


def test_a_plain_lower_bound_guard_is_read(patches):
    graph = run(str(patches), until="check").graph
    env = {"B": 2, "H": 64, "W": 64}
    guard = "32 <= L['x'].size()[2] and L['x'].size()[2] <= IntInfinity()"
    assert guard_holds(graph, guard, env) is True
    assert guard_holds(graph, guard, {**env, "H": 31}) is False
    p = SymbolPlan("H", 64, True, 1, None, 1, 64, [64, 65])
    assert narrow(graph, p, guard, env) == 32
    p.lo = 64       # narrowed past it by another guard: it already holds, nothing to narrow
    assert narrow(graph, p, guard, env) == 64


def test_export_range_narrowed_for_a_lower_bound_and_a_division_guard(patches, tmp_path):
    res = build(str(patches), str(tmp_path / "out"), emit=["pt2"], latency_runs=1)
    errors = [d for d in res.diagnostics if d.severity == "error"]
    assert res.ok, errors
    assert not [d for d in res.diagnostics if d.code == "ARC511"], res.diagnostics
    for sym in ("H", "W"):
        s = res.manifest["symbols"][sym]
        assert s["dynamic"] and s["range"][0] == 64, s
        (d,) = [d for d in res.diagnostics if d.code == "ARC512" and f"`{sym}`" in d.message]
        assert "--dynamic" not in (d.hint or "")
    assert res.manifest["artifacts"]["pt2"]["status"] == "verified"
