"""DeepLabV3-ResNet50 against torchvision's `segmentation.deeplabv3_resnet50` (issue 14, Deliver 7):
parameter counts and state_dict keys, symbolic static shapes equal to the executed ones at two sizes
(H and W free: the sizes are read at run time, no divisibility is required), the randomized parity
of `archc compare` at a small input (torchvision's widths are fixed, so the small configuration is
the full model at 64x64, B=2, so that the train-mode pass runs too: batch norm needs more than one
value per channel after the ASPP's global pooling)."""
from __future__ import annotations

import pytest

import archc
from archc.ir.dims import dim_str, evaluate

torch = pytest.importorskip("torch")

SPECS = {"deeplabv3_resnet50": (39_638_869, False), "deeplabv3_resnet50_aux": (42_004_074, True)}
SMALL = {"H": 64, "W": 64, "B": 1}


@pytest.mark.parametrize("name", list(SPECS))
def test_counts_and_keys_match_torchvision(name):
    tv = pytest.importorskip("torchvision")
    count, aux = SPECS[name]
    g = archc.infer(f"specs/{name}.yaml", SMALL)
    assert g.param_count == count
    with torch.device("meta"):
        ref = tv.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=aux)
    assert sum(p.numel() for p in ref.parameters()) == count
    gm = archc.compile(f"specs/{name}.yaml", SMALL, device="meta")
    mine = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    # the one rename of the spec's reference: the ASPP's ModuleList `convs.N` is `branchN`
    theirs = {k.replace("classifier.0.convs.", "classifier.0.branch"): tuple(v.shape) for k, v in ref.state_dict().items()}
    assert mine == theirs


@pytest.mark.parametrize("name", list(SPECS))
def test_shapes_are_symbolic_and_need_no_divisibility(name):
    g = archc.infer(f"specs/{name}.yaml")
    shapes = {n.path: [dim_str(d) for d in n.outputs[0].shape] for n in g.nodes}
    assert shapes["backbone.layer4.2.relu3"] == ["B", "2048", "(H - 1)//8 + 1", "(W - 1)//8 + 1"]  # output stride 8
    assert shapes["classifier.0.pooled"] == ["B", "256", "(H - 1)//8 + 1", "(W - 1)//8 + 1"]
    assert shapes["upsample"] == ["B", "21", "H", "W"]
    assert g.constraints == [], [str(c) for c in g.constraints]   # any H, W >= 32: no `H % 8 == 0`


def test_static_shapes_equal_executed_at_two_sizes():
    """On the meta device at two odd sizes, every node's executed shape is its static shape there."""
    from archc.codegen.verify import verify, verify_all_sizes

    p = "specs/deeplabv3_resnet50_aux.yaml"
    g = archc.infer(p, SMALL)
    gm = archc.compile(p, SMALL, device="meta", verify=False)
    assert verify(gm, g) == [] and verify_all_sizes(gm, g) == []
    for h, w in ((65, 97), (33, 50)):
        out, aux = gm(torch.empty(1, 3, h, w, device="meta"))
        assert tuple(out.shape) == tuple(aux.shape) == (1, 21, h, w)
        env = {"B": 1, "H": h, "W": w}
        feat = next(n for n in g.nodes if n.path == "classifier.4").outputs[0].shape
        assert [evaluate(d, env) for d in feat] == [1, 21, (h - 1) // 8 + 1, (w - 1) // 8 + 1]


@pytest.mark.parametrize("name", [
    "deeplabv3_resnet50",
    # the same model plus the FCN head, which test_module_follows_torchvision_at_an_odd_size covers in seconds
    pytest.param("deeplabv3_resnet50_aux", marks=pytest.mark.slow),
])
def test_small_input_matches_torchvision(name):
    """`archc compare` (randomized weights, outputs and gradients) at 64x64, one seed."""
    pytest.importorskip("torchvision")
    from archc.parity.compare import compare

    doc = compare(f"specs/{name}.yaml", None, SMALL | {"B": 2}, None, seeds=1)   # B=2: batch norm trains too
    assert doc["passed"], doc.get("reasons")
    assert doc["params"] == doc["reference_params"] == SPECS[name][0]
    assert doc["unmatched_spec"] == [] and doc["unmatched_reference"] == []
    assert doc["max_abs_diff"] < 1e-4 and doc["max_grad_rel_diff"] < 1e-4
    assert doc["train"]["compared"], doc["train"]
    assert set(doc["runs"][0]["outputs"]) == ({"out", "aux"} if SPECS[name][1] else {"out"})


def test_module_follows_torchvision_at_an_odd_size():
    """Weights loaded from torchvision's state_dict; the same logits at a size the spec never saw."""
    tv = pytest.importorskip("torchvision")
    ref = tv.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=True).eval()
    gm = archc.compile("specs/deeplabv3_resnet50_aux.yaml", SMALL)
    gm.load_state_dict({k.replace("classifier.0.convs.", "classifier.0.branch"): v for k, v in ref.state_dict().items()})
    x = torch.randn(1, 3, 45, 70)
    with torch.no_grad():
        out, aux = gm(x)
        want = ref(x)
    torch.testing.assert_close(out, want["out"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(aux, want["aux"], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_build_keeps_h_and_w_dynamic(tmp_path):
    """`archc build --emit pt2,onnx` at 64x64 (~4 min on 2 CPUs): B, H and W dynamic in both
    artifacts, each verified at two sizes; the ONNX Resize sizes come from the input's shape, and
    both artifacts run at a third size."""
    import onnx

    from archc.api import build

    out = tmp_path / "out"
    res = build("specs/deeplabv3_resnet50.yaml", str(out), overrides={"H": 64, "W": 64}, emit=["pt2", "onnx"], latency_runs=1)
    m = res.manifest
    assert m["ok"], m["diagnostics"]
    assert all(m["symbols"][s]["dynamic"] for s in ("B", "H", "W")), m["symbols"]
    for fmt in ("pt2", "onnx"):
        a = m["artifacts"][fmt]
        assert a["status"] == "verified" and len(a["sizes"]) == 2 and all(x["ok"] for x in a["sizes"]), a
    model = onnx.load(str(out / "model.onnx"), load_external_data=False)
    consts = {i.name for i in model.graph.initializer} | {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    resizes = [n for n in model.graph.node if n.op_type == "Resize"]
    assert len(resizes) == 2 and all(len(n.input) > 3 and n.input[3] not in consts for n in resizes)
    x = torch.randn(1, 3, 57, 83)
    y = torch.export.load(str(out / "model.pt2")).module()(x)
    assert tuple(y.shape) == (1, 21, 57, 83)
    ort = pytest.importorskip("onnxruntime")
    (yo,) = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})
    torch.testing.assert_close(torch.from_numpy(yo), y, rtol=1e-4, atol=1e-4)


def test_profile_matches_torchvisions_published_ops():
    """torchvision publishes 178.722 G ops (multiply-accumulates) for deeplabv3_resnet50 with the aux
    head at its 520x520 evaluation size; the static profile counts the same."""
    tv = pytest.importorskip("torchvision")
    from archc.pipeline import Options, run
    from archc.profile.run import Request

    published = tv.models.segmentation.DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1.meta["_ops"]
    sizes = {"H": 520, "W": 520, "B": 1}
    aux = run("specs/deeplabv3_resnet50_aux.yaml", Options(sizes), until="measure", measure=Request(device="meta")).measured.static
    plain = run("specs/deeplabv3_resnet50.yaml", Options(sizes), until="measure", measure=Request(device="meta")).measured.static
    assert round(aux.macs / 1e9, 3) == published == 178.722
    assert aux.macs == 178_721_945_088 and plain.macs == 168_731_205_888   # the spec docs' figures
    assert aux.params == 42_004_074 and plain.params == 39_638_869
