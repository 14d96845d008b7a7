"""EfficientNet-B0..B7 (specs/efficientnet.yaml) against torchvision's efficientnet_bN: parameter
counts and state_dict keys of every variant, randomized parity at a small size (eval and train mode),
static shapes against executed ones at two sizes, and a verified build with H and W dynamic."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import archc
from archc.cli.main import app

torchvision = pytest.importorskip("torchvision", reason="pip install 'archc-compiler[reference]' (torchvision)")

SPEC = "specs/efficientnet.yaml"
VARIANTS = ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"]
SMALL = ["--set", "H=64", "--set", "W=64", "--set", "B=1"]
runner = CliRunner()


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_counts_and_keys_match_torchvision(variant):
    """Compound scaling as data: make_divisible(c * width_mult, 8) widths and ceil(n * depth_mult)
    depths give torchvision's parameter count and state_dict layout (counted on the meta device)."""
    import torch

    with torch.device("meta"):
        ref = getattr(torchvision.models, f"efficientnet_{variant}")()
    g = archc.infer(SPEC, variant=variant)
    assert g.param_count == sum(p.numel() for p in ref.parameters())
    assert g.reference.against == f"torchvision:efficientnet_{variant}"
    gm = archc.compile(SPEC, variant=variant, device="meta")
    ref_keys = [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    assert [(k, tuple(v.shape)) for k, v in gm.state_dict().items()] == ref_keys   # same order too


def test_b0_count_and_scaled_plan():
    assert archc.infer(SPEC).param_count == 5_288_548
    g = archc.infer(SPEC, variant="b7")
    # B7: depth 3.1 -> blocks per stage ceil(n * 3.1); width 2.0 -> stem 64, head 4 * 640
    assert g.params["depths"] == [4, 7, 7, 10, 10, 13, 4]
    head = next(n for n in g.nodes if n.path == "features.8.0")
    assert head.outputs[0].shape[1] == 2560
    bn = next(n for n in g.nodes if n.path == "features.8.1")
    assert bn.attrs.eps == 1e-3 and bn.attrs.momentum == 0.01   # B5-B7's norm layer


def test_stochastic_depth_schedule_is_torchvision_s():
    """Block k (counted over all stages) drops its residual branch with p = 0.2 * k / total."""
    import torch

    with torch.device("meta"):
        ref = torchvision.models.efficientnet_b3()
    ref_p = {k.removesuffix(".stochastic_depth"): m.p for k, m in ref.named_modules()
             if type(m).__name__ == "StochasticDepth"}
    g = archc.infer(SPEC, variant="b3")
    ours = {n.path.removesuffix(".stochastic_depth"): n.attrs.p for n in g.nodes if n.op == "drop_path"}
    # torchvision keeps a (no-op) StochasticDepth in blocks without a residual; the spec has none there
    assert ours and all(ours[k] == ref_p[k] for k in ours)
    assert set(ref_p) - set(ours) == {k for k, m in ref.named_modules() if getattr(m, "use_res_connect", True) is False}


def test_small_compare_passes_in_eval_and_train_mode():
    """Randomized parity at 64x64: outputs and gradients, in eval mode and in train mode (batch
    statistics, dropout and stochastic depth off on both sides)."""
    r = runner.invoke(app, ["compare", SPEC, *SMALL, "--json"])
    if r.exit_code == 3:
        pytest.skip(r.output)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["passed"] and not doc["refused"]
    assert doc["params"] == doc["reference_params"] == 5_288_548
    assert doc["unmatched_spec"] == [] and doc["unmatched_reference"] == []
    assert doc["reference_max_abs"] > 1.0                         # not a degenerate comparison
    assert doc["max_rel_diff"] < 1e-7 and doc["max_grad_rel_diff"] < 1e-7
    train = doc["train"]
    assert train["compared"], train
    assert train["outputs"]["logits"]["ok"] and train["grad_ok"]


def test_train_compare_turns_drop_path_off():
    """archc's own DropPath modules are switched off for the train-mode comparison, as torchvision's
    StochasticDepth is (else the spec's side is random in train mode and never matches)."""
    import torch

    from archc.ops._modules import DropPath
    from archc.parity.compare import _dropout_off

    m = torch.nn.Sequential(DropPath(0.3), torch.nn.Dropout(0.2), DropPath(0.0))
    assert _dropout_off(m) == 2
    assert m[0].p == 0.0 and m[1].p == 0.0


@pytest.mark.parametrize("sizes", [{"H": 64, "W": 64, "B": 1}, {"H": 97, "W": 75, "B": 2}],
                         ids=["64x64", "97x75"])
def test_static_shapes_equal_executed_and_outputs_match(sizes):
    """The static shapes equal the executed ones at every node, and the module (weights loaded from
    torchvision) gives torchvision's logits, at a multiple of 32 and at odd sizes."""
    import torch

    from archc.codegen.verify import verify
    from archc.pipeline import Options, from_graph, run

    graph = run(SPEC, Options(dict(sizes)), until="check").graph
    gm = run(from_graph(graph, Options(device="cpu")), until="lower").module.eval()
    env = dict(graph.example_env)
    assert verify(gm, graph, env) == []
    ref = torchvision.models.efficientnet_b0().eval()
    gm.load_state_dict(ref.state_dict())
    x = torch.randn(sizes["B"], 3, sizes["H"], sizes["W"])
    with torch.no_grad():
        a, b = gm(x), ref(x)
    assert a.shape == b.shape == (sizes["B"], 1000)
    assert (a - b).abs().max().item() <= 1e-5 * max(1.0, b.abs().max().item())


def test_build_is_verified_with_dynamic_h_and_w(tmp_path):
    """`archc build` (pt2) keeps B, H and W dynamic and verifies the artifact at two sizes of each."""
    from archc.api import build

    res = build(SPEC, str(tmp_path / "out"), emit=["pt2"], overrides={"H": 64, "W": 64}, latency_runs=1)
    assert res.ok, [d for d in res.diagnostics if d.severity == "error"]
    m = res.manifest
    for s in ("B", "H", "W"):
        assert m["symbols"][s]["dynamic"], (s, m["symbols"][s])
    a = m["artifacts"]["pt2"]
    assert a["status"] == "verified", a
    assert len(a["sizes"]) == 2 and all(x["ok"] for x in a["sizes"]), a["sizes"]
    assert a["sizes"][0]["sizes"]["H"] != a["sizes"][1]["sizes"]["H"]
    assert a["sizes"][0]["sizes"]["W"] != a["sizes"][1]["sizes"]["W"]
