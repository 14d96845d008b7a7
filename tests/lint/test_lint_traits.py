"""The rules read op traits (`OPS[op].traits`), never op names: no op name appears as a string in
archc/lint, a plugin op is treated by what it declares, and `drop_path` (role "pass") is looked
through like dropout."""
from __future__ import annotations

import ast
from types import SimpleNamespace

import pytest

from archc.diagnostics import Span
from archc.ir.graph import Graph, GraphInput, GraphOutput, Node, ValueRef
from archc.ir.types import TensorType
from archc.lint import RULES, load_rules
from archc.lint._context import LintContext
from archc.lint_driver import LintOptions, lint_text
from archc.ops import OPS, OnnxLimit, Traits, load_ops
from tests.conftest import ROOT

load_rules()
load_ops()


def test_no_op_name_is_a_string_in_the_lint_package():
    names = set(load_ops())
    found = []
    for path in sorted((ROOT / "archc" / "lint").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not found, "rules read op traits, not op names:\n" + "\n".join(found)


class _Attrs:
    pass


def _chain(*ops: str) -> Graph:
    """x -> ops[0] -> ops[1] -> ... -> output y, every value [2, 32]."""
    t = TensorType((2, 32))
    nodes, prev = [], ValueRef("x", 0, True)
    for i, op in enumerate(ops):
        nodes.append(Node(f"n{i}", op, _Attrs(), [prev], [t], Span("m.yaml", 3 + i, 5)))
        prev = ValueRef(f"n{i}")
    return Graph("g", {"x": GraphInput("x", t)}, nodes, {"y": GraphOutput("y", prev)}, {}, {})


def _check(code: str, graph: Graph, opset: int = 18) -> list:
    return list(RULES[code].check(LintContext("m.yaml", None, graph, opset=opset)))


def test_a_plugin_op_is_treated_by_its_declared_traits(monkeypatch):
    monkeypatch.setitem(OPS, "plugin_act", SimpleNamespace(traits=Traits(role="activation")))
    monkeypatch.setitem(OPS, "plugin_plain", SimpleNamespace(traits=Traits()))
    found = _check("ARC306", _chain("plugin_act", "plugin_act"))
    assert len(found) == 1 and "`n1` (plugin_act) is applied to the output of `n0` (plugin_act)" in found[0].message
    assert _check("ARC306", _chain("plugin_act", "plugin_plain", "plugin_act")) == []
    # an op that is not registered at all has the default traits: no rule matches it
    assert _check("ARC306", _chain("not_registered", "not_registered")) == []


def test_a_plugin_ops_onnx_limits_are_checked(monkeypatch):
    lim = OnnxLimit(12, "ONNX `Plugin` needs opset 12", "export with --opset 12 or later")
    monkeypatch.setitem(OPS, "plugin_onnx", SimpleNamespace(traits=Traits(onnx=(lim,))))
    found = _check("ARC501", _chain("plugin_onnx"), opset=11)
    assert [f.message for f in found] == ["`n0` (plugin_onnx) cannot be exported to ONNX opset 11: ONNX `Plugin` needs opset 12"]
    assert found[0].hint == lim.hint
    assert _check("ARC501", _chain("plugin_onnx"), opset=12) == []


def test_onnx_limits_stop_at_the_first_failing_one():
    spec = ("archc: 1\nname: t\ninputs: {x: {shape: [1, 3, 8, 8]}}\n"
            "layers:\n  - up: {op: upsample, scale_factor: 2, mode: bilinear}\n")
    msgs = [d.message for d in lint_text(spec, options=LintOptions(opset=9)).diagnostics if d.code == "ARC501"]
    assert len(msgs) == 1 and "linear/cubic modes" in msgs[0]
    msgs = [d.message for d in lint_text(spec, options=LintOptions(opset=10)).diagnostics if d.code == "ARC501"]
    assert len(msgs) == 1 and "linear/cubic modes" in msgs[0]
    assert "ARC501" not in [d.code for d in lint_text(spec, options=LintOptions(opset=11)).diagnostics]


_HEAD = "archc: 1\nname: t\ninputs: {x: {shape: [2, 32]}}\nlayers:\n"


def _codes(layers: str, outputs: str = "") -> list[str]:
    return [d.code for d in lint_text(_HEAD + layers + outputs).diagnostics]


def test_softmax_on_logits_looks_through_drop_path():
    """drop_path is identity at inference (role "pass"), like dropout."""
    layers = "  - fc:   {op: linear, out: 16}\n  - prob: {op: softmax}\n  - dp:   {op: drop_path, p: 0.1}\n"
    assert "ARC307" in _codes(layers, "outputs:\n  logits: {from: dp, kind: logits}\n")
    layers = "  - fc:   {op: linear, out: 16}\n  - prob: {op: softmax}\n  - fc2:  {op: linear, out: 16}\n"
    assert "ARC307" not in _codes(layers, "outputs:\n  logits: {from: fc2, kind: logits}\n")


def test_an_output_head_behind_drop_path_is_exempt_from_the_width_rule():
    assert "ARC401" not in _codes("  - head: {op: linear, out: 10}\n  - dp:   {op: drop_path, p: 0.1}\n")
    assert "ARC401" not in _codes("  - head: {op: linear, out: 100}\n  - dp:   {op: drop_path, p: 0.1}\n")
    assert "ARC401" in _codes("  - fc: {op: linear, out: 100}\n  - dp: {op: drop_path, p: 0.1}\n"
                              "  - head: {op: linear, out: 10}\n")


@pytest.mark.parametrize("op", ["dropout", "drop_path"])
def test_a_drop_before_batch_norm_is_reported(op):
    found = [d for d in lint_text(_HEAD + f"  - drop: {{op: {op}, p: 0.5}}\n  - bn:   {{op: batch_norm}}\n").diagnostics
             if d.code == "ARC305"]
    assert [d.message for d in found] == [f"{op} `drop` feeds straight into batch norm `bn`"]
    assert "ARC305" not in _codes(f"  - drop: {{op: {op}, p: 0.0}}\n  - bn:   {{op: batch_norm}}\n")
    assert "ARC305" not in _codes("  - drop: {op: identity}\n  - bn:   {op: batch_norm}\n")


def test_bias_before_batch_norm_follows_the_width_dim():
    """A linear's bias on [B, F] is on dim 1, which batch norm normalises; on [B, T, F] it is not."""
    assert "ARC304" in _codes("  - fc: {op: linear, out: 16}\n  - bn: {op: batch_norm}\n")
    spec = ("archc: 1\nname: t\ninputs: {x: {shape: [2, 4, 32]}}\n"
            "layers:\n  - fc: {op: linear, out: 16}\n  - bn: {op: batch_norm}\n")
    assert "ARC304" not in [d.code for d in lint_text(spec).diagnostics]
