"""SegFormer-B0's encoder against transformers' `SegformerModel(SegformerConfig())` (issue 14, Deliver
7): the tokens of every stage go back to a [B, C, h, w] grid with h from the patch embedding (a size
from another node) and w inferred, so H and W stay symbolic; parameter count and keys, static shapes
equal to executed ones at two sizes, parity with randomized weights in eval and train mode (drop path
off on both sides), and `archc build` with H and W dynamic."""
from __future__ import annotations

import pytest

import archc
from archc.ir.dims import dim_str, evaluate

torch = pytest.importorskip("torch")

SPEC = "specs/segformer_b0.yaml"
SMALL = {"H": 64, "W": 64, "B": 1}
COUNT = 3_319_392


def _hf_keys(sd):
    return {k.replace(".attention.sequence_reduction.", ".sr."): tuple(v.shape) for k, v in sd.items()}


def test_counts_and_keys_match_transformers():
    tr = pytest.importorskip("transformers")
    g = archc.infer(SPEC, SMALL)
    assert g.param_count == COUNT
    with torch.device("meta"):
        ref = tr.SegformerModel(tr.SegformerConfig())
    assert sum(p.numel() for p in ref.parameters()) == COUNT
    gm = archc.compile(SPEC, SMALL, device="meta")
    assert {k: tuple(v.shape) for k, v in gm.state_dict().items()} == _hf_keys(ref.state_dict())


def test_grids_are_symbolic_and_need_no_divisibility():
    g = archc.infer(SPEC)
    shapes = {n.path: [dim_str(d) for d in n.outputs[0].shape] for n in g.nodes}
    # stage 0's reduction: tokens [B, h*w, 32] back to the grid of the patch embedding, h = (H - 1)//4 + 1
    assert shapes["stages.0.blocks.0.sr.grid.grid"] == ["B", "32", "(H - 1)//4 + 1", "(W - 1)//4 + 1"]
    assert shapes["stages.0.blocks.0.sr.layer_norm"][1] == "((H - 29)//32)*((W - 29)//32) + (H - 29)//32 + (W - 29)//32 + 1"  # the stride-8 conv of h
    assert shapes["stages.3.grid.grid"] == ["B", "256", "(H - 1)//32 + 1", "(W - 1)//32 + 1"]
    assert [dim_str(d) for d in g.type_of(g.outputs["last_hidden_state"].ref).shape] == ["B", "256", "(H - 1)//32 + 1", "(W - 1)//32 + 1"]
    assert g.constraints == [], [str(c) for c in g.constraints]   # any H, W >= 32


def test_static_shapes_equal_executed_at_two_sizes():
    from archc.codegen.verify import verify, verify_all_sizes

    g = archc.infer(SPEC, SMALL)
    gm = archc.compile(SPEC, SMALL, device="meta", verify=False)
    assert verify(gm, g) == [] and verify_all_sizes(gm, g) == []
    out = g.type_of(g.outputs["last_hidden_state"].ref).shape
    for h, w in ((65, 97), (33, 50)):
        y = gm(torch.empty(2, 3, h, w, device="meta"))
        assert list(y.shape) == [evaluate(d, {"B": 2, "H": h, "W": w}) for d in out] == [2, 256, (h - 1) // 32 + 1, (w - 1) // 32 + 1]


def test_module_follows_transformers_at_an_odd_size():
    tr = pytest.importorskip("transformers")
    ref = tr.SegformerModel(tr.SegformerConfig()).eval()
    gm = archc.compile(SPEC, SMALL)
    gm.load_state_dict({k.replace(".attention.sequence_reduction.", ".sr."): v for k, v in ref.state_dict().items()})
    x = torch.randn(1, 3, 45, 70)
    with torch.no_grad():
        torch.testing.assert_close(gm(x), ref(x).last_hidden_state, rtol=1e-4, atol=1e-4)


def test_small_input_matches_transformers():
    """`archc compare` at 64x64, B=2, one seed: eval and train mode (drop path 0.1 in the config, off on
    both sides for the train comparison)."""
    pytest.importorskip("transformers")
    from archc.parity.compare import compare

    doc = compare(SPEC, None, SMALL | {"B": 2}, None, seeds=1)
    assert doc["passed"], doc.get("reasons")
    assert doc["params"] == doc["reference_params"] == COUNT
    assert doc["unmatched_spec"] == [] and doc["unmatched_reference"] == []
    assert doc["max_abs_diff"] < 1e-4 and doc["max_grad_rel_diff"] < 1e-4
    assert doc["train"]["compared"], doc["train"]


def test_compare_turns_archcs_drop_path_off():
    """The train-mode comparison sets every drop probability to 0 on both sides, archc's DropPath included."""
    import torch.nn as nn

    from archc.ops._modules import DropPath
    from archc.parity.compare import _dropout_off

    m = nn.Sequential(DropPath(0.3), nn.Dropout(0.2))
    assert _dropout_off(m) == 2 and m[0].p == 0.0 and m[1].p == 0.0


@pytest.mark.slow
@pytest.mark.timeout(1800)   # the ONNX export of the reshapes' symbolic sizes takes minutes on 2 CPUs
def test_build_keeps_h_and_w_dynamic(tmp_path):
    """B, H and W dynamic in pt2 and ONNX. torch.export specialises the sizes at which stage 0's
    reduced key/value grid would be 1x1 (H or W < 61: ARC512, a warning), so the third size is above."""
    from archc.api import build

    out = tmp_path / "out"
    res = build(SPEC, str(out), overrides=SMALL, emit=["pt2", "onnx"], latency_runs=1)
    m = res.manifest
    assert m["ok"], m["diagnostics"]
    assert all(m["symbols"][s]["dynamic"] for s in ("B", "H", "W")), m["symbols"]
    for fmt in ("pt2", "onnx"):
        a = m["artifacts"][fmt]
        assert a["status"] == "verified" and len(a["sizes"]) == 2 and all(x["ok"] for x in a["sizes"]), a
    assert m["symbols"]["H"]["range"][0] == m["symbols"]["W"]["range"][0] == 61   # narrowed, said in the manifest
    x = torch.randn(1, 3, 70, 97)
    y = torch.export.load(str(out / "model.pt2")).module()(x)
    assert tuple(y.shape) == (1, 256, 3, 4)
    ort = pytest.importorskip("onnxruntime")
    (yo,) = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"]).run(None, {"pixel_values": x.numpy()})
    torch.testing.assert_close(torch.from_numpy(yo), y, rtol=1e-4, atol=1e-4)
