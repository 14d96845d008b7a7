"""Regressions from specs written outside the zoo (issue 11, item 5): export ranges, ARC510's cause
and node, a failed build's output folder."""
from __future__ import annotations

import textwrap

import pytest

from archc.api import build
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


# sdpa on 5-D inputs: torch's ONNX exporter only takes 4-D query, key and value
SDPA5 = textwrap.dedent("""\
    archc: 1
    name: sdpa5
    symbols:
      B: {example: 2, min: 1}
    inputs:
      q: {shape: [B, 2, 3, 5, 4], dtype: float32}
      k: {shape: [B, 2, 3, 7, 4], dtype: float32}
      v: {shape: [B, 2, 3, 7, 6], dtype: float32}
    layers:
      - pre: {op: identity, from: q}
      - att: {op: sdpa, from: [pre, k, v]}
    outputs:
      y: att
    """)


@pytest.fixture(scope="module")
def sdpa5_failed_build(tmp_path_factory):
    pytest.importorskip("onnxscript")
    d = tmp_path_factory.mktemp("sdpa5")
    spec = d / "sdpa5.yaml"
    spec.write_text(SDPA5)
    out = d / "new" / "out"              # neither exists: the build creates both
    return d, out, build(str(spec), str(out), emit=["onnx"], latency_runs=1)


def test_arc510_carries_the_exporters_cause_and_the_spec_node(sdpa5_failed_build):
    _, _, res = sdpa5_failed_build
    assert not res.ok
    (d,) = [d for d in res.diagnostics if d.code == "ARC510"]
    assert "\x1b" not in d.message and "\x1b" not in (d.hint or "")
    assert "AssertionError: only 4D query, key, and value are supported" in d.message, d.message
    assert "`att` (sdpa)" in d.message and len(d.message) < 600
    assert d.span is not None and d.span.file.endswith("sdpa5.yaml") and d.span.line == 11


def test_a_failed_build_removes_the_folders_it_created(sdpa5_failed_build):
    d, out, res = sdpa5_failed_build
    assert not res.ok
    assert not out.exists() and not (d / "new").exists()
    assert (d / "sdpa5.yaml").exists()


def test_a_failed_build_keeps_an_existing_empty_folder(tmp_path):
    pytest.importorskip("onnxscript")
    spec = tmp_path / "sdpa5.yaml"
    spec.write_text(SDPA5)
    out = tmp_path / "out"
    out.mkdir()
    res = build(str(spec), str(out), emit=["onnx"], latency_runs=1)
    assert not res.ok and out.is_dir() and list(out.iterdir()) == []


def test_exporter_cause_without_a_summary_is_the_innermost_cause():
    from archc.export.formats.onnx import exporter_cause

    try:
        try:
            raise AssertionError("\x1b[96mdeep\x1b[0m reason " + "x" * 2000)
        except AssertionError as inner:
            raise RuntimeError("\x1b[96mouter\x1b[0m wrapper") from inner
    except RuntimeError as e:
        cause, _ = exporter_cause(e)
    assert cause.startswith("AssertionError: deep reason") and "\x1b" not in cause and len(cause) <= 400
