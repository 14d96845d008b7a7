"""ONNX as Netron shows it: node names `PATH/OpType`, the value each IR node computes named after
its path, every node (constants, shape arithmetic and the final Gemm included) carrying the
`archc.node` property, and archc's own version as the producer."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("onnx")


def _model(export_build, name, spec, *rest):
    import onnx

    out, res = export_build(name, spec, *rest, emit=["onnx"])
    assert res.ok, res.diagnostics
    return onnx.load(str(out / "model.onnx")), res


def _props(node):
    return {p.key: p.value for p in node.metadata_props}


def test_every_node_is_named_and_tagged_after_the_spec(export_build):
    from archc import __version__

    m, _ = _model(export_build, "resnet18_small", "specs/resnet18.yaml", {"H": 32, "W": 32})
    g = m.graph
    assert m.producer_name == "archc" and m.producer_version == __version__
    assert all("archc.node" in _props(n) for n in g.node)
    assert not [n.name for n in g.node if re.match(r"node_|_|$", n.name)]
    values = [o for n in g.node for o in n.output]
    assert not [v for v in values if re.match(r"(val_|getitem|node_)", v)]
    assert {"maxpool", "layer1.0.relu1", "layer4.1.add", "avgpool", "flatten"} <= set(values)
    last = g.node[-1]
    assert last.op_type == "Gemm" and _props(last)["archc.node"] == "fc" and last.name == "fc/Gemm"
    assert [o.name for o in g.output] == ["logits"]                 # spec names are kept
    assert all(n.name.split("/")[0] == _props(n)["archc.node"] for n in g.node)


def test_helpers_are_tagged_with_the_node_they_serve(export_build):
    m, _ = _model(export_build, "vit_small", "specs/vit_b_16.yaml", {}, "small")
    helpers = [n for n in m.graph.node if _props(n).get("archc.part") == "helper"]
    assert helpers and all(_props(n)["archc.node"] for n in helpers)
    attn = [n for n in m.graph.node if _props(n)["archc.node"] == "encoder.layers.encoder_layer_0.self_attention"]
    assert len(attn) > 3 and {n.op_type for n in attn} >= {"MatMul", "Softmax"}
    assert any(o == "encoder.layers.encoder_layer_0.self_attention/Split:1" for n in attn for o in n.output)
