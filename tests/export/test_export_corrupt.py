"""Corrupted artifacts are caught, and the diagnostic names the node that was altered: the verifier
runs directly on the altered artifact (an ONNX initializer changed with onnx.numpy_helper; an
operator and a weight of the generated source)."""
from __future__ import annotations

import shutil

import pytest

import archc
from archc.codegen.nodemap import node_map
from archc.export.dynamic import envs, plan
from archc.export.verify import verify_artifact


def _verify(runner, gm):
    graph = gm.archc_graph
    plans, _ = plan(graph)
    return verify_artifact(runner.fmt, runner, gm, graph, envs(graph, plans), "float32", latency_runs=1)


def _named(v, path, line, file):
    assert v.status == "failed"
    (d,) = [d for d in v.diagnostics if d.code == "ARC621"]
    assert f"node `{path}`" in d.message, d.message
    assert d.span is not None and d.span.line == line and d.span.file == file, d.span
    return d


@pytest.fixture(scope="module")
def mlp_gm():
    return archc.compile("specs/mlp.yaml")


def test_onnx_initializer_corruption_names_the_node(mlp_build, mlp_gm, tmp_path):
    import onnx
    from onnx import numpy_helper

    from archc.export.formats.onnx import OnnxRunner

    out, _ = mlp_build
    m = onnx.load(str(out / "model.onnx"))
    (init,) = [i for i in m.graph.initializer if i.name == "hidden.1.fc.weight"]
    w = numpy_helper.to_array(init).copy()
    w[0, 0] += 1.0
    init.CopyFrom(numpy_helper.from_array(w, init.name))
    p = tmp_path / "model.onnx"
    onnx.save(m, str(p))
    v = _verify(OnnxRunner(str(p), mlp_gm.archc_graph), mlp_gm)
    d = _named(v, "hidden.1.fc", 14, "specs/mlp.yaml")
    assert any("value" in r.message for r in d.related)


def test_intact_onnx_verifies(mlp_build, mlp_gm):
    from archc.export.formats.onnx import OnnxRunner

    out, _ = mlp_build
    v = _verify(OnnxRunner(str(out / "model.onnx"), mlp_gm.archc_graph), mlp_gm)
    assert v.status == "verified", v.diagnostics


def test_source_operator_corruption_names_the_node(mlp_build, mlp_gm, tmp_path):
    from archc.export.formats.source import SourceRunner

    out, _ = mlp_build
    text = (out / "model.py").read_text()
    line = "hidden_1_act = F.gelu(hidden_1_fc, approximate='none')"
    assert line in text
    (tmp_path / "model.py").write_text(text.replace(line, "hidden_1_act = F.silu(hidden_1_fc)"))
    shutil.copy(out / "model.safetensors", tmp_path / "model.safetensors")
    v = _verify(SourceRunner(str(tmp_path / "model.py"), str(tmp_path / "model.safetensors"), node_map(mlp_gm)), mlp_gm)
    _named(v, "hidden.1.act", 15, "specs/mlp.yaml")


def test_source_weight_corruption_names_the_node(unet_build, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    from archc.export.formats.source import SourceRunner

    out, _ = unet_build
    gm = archc.compile("specs/unet.yaml", {"base": 4, "H": 32, "W": 32})
    sd = load_file(str(out / "model.safetensors"))
    sd["up4.conv.conv1.weight"] = sd["up4.conv.conv1.weight"] * torch.tensor(3.0)
    save_file(sd, str(tmp_path / "model.safetensors"))
    shutil.copy(out / "model.py", tmp_path / "model.py")
    v = _verify(SourceRunner(str(tmp_path / "model.py"), str(tmp_path / "model.safetensors"), node_map(gm)), gm)
    _named(v, "up4.conv.conv1", 10, "specs/lib/unet.yaml")


def test_pt2_and_torchscript_localise(unet_build, tmp_path):
    """The same weight altered in the reloaded pt2 program and TorchScript module."""
    import torch

    from archc.export.formats.pt2 import Pt2Runner
    from archc.export.formats.torchscript import TorchScriptRunner

    out, _ = unet_build
    gm = archc.compile("specs/unet.yaml", {"base": 4, "H": 32, "W": 32})
    r = Pt2Runner(str(out / "model.pt2"))
    with torch.no_grad():
        dict(r.module.named_parameters())["up3.conv.conv2.weight"].mul_(1.5)
    _named(_verify(r, gm), "up3.conv.conv2", 12, "specs/lib/unet.yaml")
    t = TorchScriptRunner(str(out / "model.torchscript.pt"), gm)
    with torch.no_grad():
        t.module.up3.conv.conv2.weight.mul_(1.5)
    _named(_verify(t, gm), "up3.conv.conv2", 12, "specs/lib/unet.yaml")
