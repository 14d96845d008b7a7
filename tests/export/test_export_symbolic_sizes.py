"""`archc build --emit pt2,onnx` of a spec whose `reshape`/`unflatten` sizes are other nodes' symbolic
dims (issue 11, Deliver 4): the symbols stay dynamic in both artifacts, which are verified at two
sizes and run at a third that neither export nor verification saw."""
from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

SPEC = """
archc: 1
name: grid
symbols: {B: {example: 2}, H: {example: 8, min: 2}, W: {example: 6, min: 2}}
inputs:
  x: {shape: [B, 4, H, W]}
layers:
  - f: {op: flatten, start_dim: 2}
  - t: {op: transpose, dim0: 1, dim1: 2}
  - fc: {op: linear, out: 8}
  - back: {op: transpose, dim0: 1, dim1: 2}
  - grid: {op: unflatten, dim: 2, sizes: ["${dim(x, 2)}", -1]}
  - skip: {op: conv2d, from: x, out: 8, kernel: 1}
  - add: {op: add, from: [grid, skip]}
  - r: {op: reshape, shape: [0, 0, "${dim(x, 3)}", "${dim(x, 2)}"]}
outputs:
  y: {from: r}
"""


@pytest.fixture(scope="module")
def grid_build(tmp_path_factory):
    from archc.api import build

    d = tmp_path_factory.mktemp("symsizes")
    spec = d / "grid.yaml"
    spec.write_text(textwrap.dedent(SPEC).lstrip())
    out = d / "out"
    res = build(str(spec), str(out), emit=["pt2", "onnx"], latency_runs=1)
    return spec, out, res


def test_symbols_stay_dynamic_and_both_sizes_verify(grid_build):
    _, _, res = grid_build
    m = res.manifest
    assert m["ok"], m["diagnostics"]
    for s in ("B", "H", "W"):
        assert m["symbols"][s]["dynamic"], (s, m["symbols"][s])
    for fmt in ("pt2", "onnx"):
        a = m["artifacts"][fmt]
        assert a["status"] == "verified", (fmt, a)
        assert len(a["sizes"]) == 2 and all(x["ok"] for x in a["sizes"]), a["sizes"]
        assert a["sizes"][0]["sizes"]["H"] != a["sizes"][1]["sizes"]["H"]


def test_artifacts_run_at_a_third_size(grid_build):
    _, out, _ = grid_build
    x = torch.randn(1, 4, 11, 5)          # neither the example (8, 6) nor the second size (9, 7)
    ep = torch.export.load(str(out / "model.pt2"))
    y = ep.module()(x)
    assert tuple(y.shape) == (1, 8, 5, 11)
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    (yo,) = sess.run(None, {"x": x.numpy()})
    assert yo.shape == (1, 8, 5, 11)
    torch.testing.assert_close(torch.from_numpy(yo), y, rtol=1e-4, atol=1e-5)  # the two artifacts agree


def test_onnx_keeps_the_symbols_named(grid_build):
    onnx = pytest.importorskip("onnx")
    _, out, _ = grid_build
    m = onnx.load(str(out / "model.onnx"))
    (o,) = m.graph.output
    assert [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] == ["B", 8, "W", "H"]
