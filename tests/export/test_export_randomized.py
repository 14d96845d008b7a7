"""Build verification on randomized weights (issue 11 item 2): the manifest records the weights
and the magnitudes; an artifact that is wrong by 1% in one weight fails on randomized weights, while
at the spec's default init (outputs ~1e-8) it would have passed; degenerate outputs are refused."""
from __future__ import annotations

import pytest

from archc.api import build

# 16 linear+relu layers (no biases) at torch's default init: each layer scales activations by ~0.4,
# so the logits are ~1e-7 and any absolute tolerance passes anything
DEEP = """\
archc: 1
name: deep
params: {width: 32, depth: 16}
symbols:
  B: {example: 4, min: 1}
inputs:
  x: {shape: [B, 64], dtype: float32}
blocks:
  dense:
    params: {width: int}
    layers:
      - fc:  {op: linear, out: "${width}", bias: false}
      - act: {op: relu}
layers:
  - body: {block: dense, repeat: "${depth}", args: {width: "${width}"}}
  - head: {op: linear, out: 8, bias: false}
outputs:
  logits: {from: head, kind: logits}
"""


@pytest.fixture
def deep(tmp_path):
    p = tmp_path / "deep.yaml"
    p.write_text(DEEP)
    return str(p)


def test_manifest_records_randomized_verification(export_build):
    _, res = export_build("resnet18", "specs/resnet18.yaml", {"H": 48, "W": 48})
    m = res.manifest
    assert m["verification_weights"] == {"weights": "randomized", "seed": 0, "batch_norm_statistics": "measured"}
    methods = {}
    for fmt, a in m["artifacts"].items():
        v = a["verification"]
        assert v["weights"] == "randomized" and v["seed"] == 0 and (v["atol"], v["rtol"]) == (1e-6, 1e-4), fmt
        methods[fmt] = v["method"]
        assert len(a["sizes"]) == 2
        for s in a["sizes"]:
            # randomized weights keep the logits of order one: the diff is judged against that
            assert 1e-2 < s["magnitude"] < 1e3, (fmt, s)
            assert s["rel_diff"] == pytest.approx(s["max_abs_diff"] / s["magnitude"])
            assert s["max_abs_diff"] <= 1e-6 + 1e-4 * s["magnitude"]
        assert a["rel_diff"] == max(s["rel_diff"] for s in a["sizes"])
    assert methods == {"pt2": "swapped", "onnx": "twin", "torchscript": "swapped", "source": "swapped", "state_dict": "twin"}
    assert m["artifacts"]["onnx"]["verification"]["twin_seconds"] > 0
    # the shipped artifacts keep the spec's weights, not the randomized ones
    import torch
    from safetensors.torch import load_file

    import archc

    out, _ = export_build("resnet18", "specs/resnet18.yaml", {"H": 48, "W": 48})
    gm = archc.compile("specs/resnet18.yaml", {"H": 48, "W": 48})
    shipped = load_file(str(out / "model.safetensors"))
    assert all(torch.equal(shipped[k], v) for k, v in gm.state_dict().items() if k in shipped)


def _perturbed_source(monkeypatch):
    """The source runner, broken: one weight of the reloaded model 1% off after the swap."""
    from archc.export.formats.source import SourceRunner

    orig = SourceRunner.swap

    def swap(self, state):
        done = orig(self, state)
        import torch

        with torch.no_grad():
            self.module.state_dict()["body.3.fc.weight"].mul_(1.01)
        return done

    monkeypatch.setattr(SourceRunner, "swap", swap)


def test_one_percent_wrong_weight_fails_on_random_weights_not_at_default_init(deep, tmp_path, monkeypatch):
    import torch

    import archc
    from archc.codegen.nodemap import node_map
    from archc.export.formats.source import SourceRunner
    from archc.export.verify import flatten, make_inputs

    _perturbed_source(monkeypatch)
    res = build(deep, str(tmp_path / "o"), emit=["source"], latency_runs=1)
    assert not res.ok
    a = res.manifest["artifacts"]["source"]
    assert a["status"] == "failed" and a["verification"]["weights"] == "randomized"
    (d,) = [d for d in res.diagnostics if d.code == "ARC621"]
    assert "`body.3.fc`" in d.message
    assert a["sizes"][0]["rel_diff"] > 1e-3

    # the same broken artifact at the spec's default init: outputs ~1e-7, the old absolute
    # check (|a - b| <= 1e-4 + 1e-4 |eager|) passes it
    monkeypatch.undo()
    ok = build(deep, str(tmp_path / "ok"), emit=["source"], latency_runs=1)
    assert ok.ok
    gm = archc.compile(deep)
    runner = SourceRunner(str(tmp_path / "ok" / "model.py"), str(tmp_path / "ok" / "model.safetensors"), node_map(gm))
    with torch.no_grad():
        runner.module.state_dict()["body.3.fc.weight"].mul_(1.01)
    ins = make_inputs(gm.archc_graph, {"B": 4}, "float32")
    with torch.no_grad():
        ref, got = gm(*ins.values()), flatten(runner.run(ins))[0]
    assert float(ref.abs().max()) < 1e-5
    assert not torch.equal(ref, got)
    assert bool(((ref - got).abs() <= 1e-4 + 1e-4 * ref.abs()).all())


def test_degenerate_outputs_are_refused(deep, tmp_path, monkeypatch):
    import importlib

    build_mod = importlib.import_module("archc.export.build")

    # verification at the spec's own init (what archc did before): the logits are ~1e-7
    monkeypatch.setattr(build_mod, "randomized", lambda gm, graph, env: (gm, {"statistics": "none"}))
    res = build(deep, str(tmp_path / "a"), emit=["source", "pt2"], latency_runs=1)
    assert not res.ok
    ds = [d for d in res.diagnostics if d.code == "ARC624"]
    assert len(ds) == 2 and all("< 0.001" in d.message and "`logits`" in d.message for d in ds)
    assert {a["status"] for a in res.manifest["artifacts"].values()} == {"failed"}
    monkeypatch.undo()

    # an output that does not depend on the input: the last hidden layer's weight zeroed after
    # randomizing (its bias, through relu and the head, is all that is left)
    orig = build_mod.randomized

    def constant_head(gm, graph, env):
        import torch

        rand, drawn = orig(gm, graph, env)
        with torch.no_grad():
            rand.get_submodule("body.15.fc").weight.zero_()
        return rand, drawn

    monkeypatch.setattr(build_mod, "randomized", constant_head)
    biased = tmp_path / "biased.yaml"
    biased.write_text(DEEP.replace("bias: false", "bias: true"))
    res = build(str(biased), str(tmp_path / "b"), emit=["source"], latency_runs=1)
    assert not res.ok
    (d,) = [d for d in res.diagnostics if d.code == "ARC624"]
    assert "is the same for another input" in d.message
    assert res.manifest["artifacts"]["source"]["reason"].startswith("degenerate output")
