"""`archc build --emit pt2,onnx` of a spec whose `upsample` sizes are other nodes' symbolic dims (issue
14, Deliver 5): H and W stay dynamic in both artifacts (no ARC511), which are verified at two sizes
and run at a third; the ONNX `Resize` nodes take their sizes from the runtime shape, not a constant."""
from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

SPEC = """
archc: 1
name: upsizes
symbols: {B: {example: 2}, H: {example: 16, min: 8}, W: {example: 12, min: 8}}
inputs:
  x: {shape: [B, 4, H, W]}
layers:
  - down: {op: conv2d, out: 8, kernel: 3, stride: 2, padding: 1}
  - pool: {op: adaptive_avg_pool2d, output_size: 1}
  - up:   {op: upsample, size: ["${dim(down, 2)}", "${dim(down, 3)}"], mode: bilinear, align_corners: false}
  - add:  {op: add, from: [up, down]}
  - full: {op: upsample, size: ["${dim(x, 2)}", "${dim(x, 3)}"], mode: bilinear, align_corners: false}
outputs:
  y: {from: full}
"""


@pytest.fixture(scope="module")
def up_build(tmp_path_factory):
    from archc.api import build

    d = tmp_path_factory.mktemp("upsizes")
    spec = d / "upsizes.yaml"
    spec.write_text(textwrap.dedent(SPEC).lstrip())
    out = d / "out"
    res = build(str(spec), str(out), emit=["pt2", "onnx"], latency_runs=1)
    return spec, out, res


def test_symbols_stay_dynamic_and_both_sizes_verify(up_build):
    _, _, res = up_build
    m = res.manifest
    assert m["ok"], m["diagnostics"]
    assert not [d for d in m["diagnostics"] if "ARC511" in str(d)], m["diagnostics"]
    for s in ("B", "H", "W"):
        assert m["symbols"][s]["dynamic"], (s, m["symbols"][s])
    for fmt in ("pt2", "onnx"):
        a = m["artifacts"][fmt]
        assert a["status"] == "verified", (fmt, a)
        assert len(a["sizes"]) == 2 and all(x["ok"] for x in a["sizes"]), a["sizes"]
        assert a["sizes"][0]["sizes"]["H"] != a["sizes"][1]["sizes"]["H"]


def test_artifacts_run_at_a_third_size(up_build):
    _, out, _ = up_build
    x = torch.randn(1, 4, 13, 21)          # neither the example (16, 12) nor the second size
    ep = torch.export.load(str(out / "model.pt2"))
    y = ep.module()(x)
    assert tuple(y.shape) == (1, 8, 13, 21)
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    (yo,) = sess.run(None, {"x": x.numpy()})
    assert yo.shape == (1, 8, 13, 21)
    torch.testing.assert_close(torch.from_numpy(yo), y, rtol=1e-4, atol=1e-5)


def test_onnx_resize_sizes_are_not_constants(up_build):
    onnx = pytest.importorskip("onnx")
    _, out, _ = up_build
    m = onnx.load(str(out / "model.onnx"))
    consts = {i.name for i in m.graph.initializer} | {o for n in m.graph.node if n.op_type == "Constant" for o in n.output}
    resizes = [n for n in m.graph.node if n.op_type == "Resize"]
    assert len(resizes) == 2, [n.op_type for n in m.graph.node]
    for n in resizes:
        sizes = n.input[3] if len(n.input) > 3 else ""
        assert sizes and sizes not in consts, (n.name, list(n.input))   # computed from Shape, not fixed
    (o,) = m.graph.output
    assert [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] == ["B", 8, "H", "W"]
