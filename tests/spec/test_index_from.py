"""An Ultralytics-style integer `from:` is a located error whose hint names the node it would mean."""
from __future__ import annotations

from archc.lint_driver import lint_text

HEAD = "archc: 1\nname: t\nsymbols: {B: {example: 2}}\ninputs: {x: {shape: [B, 4]}, y: {shape: [B, 4]}}\nlayers:\n"


def _one(layers: str):
    diags = [d for d in lint_text(HEAD + layers).diagnostics if d.severity == "error"]
    assert len(diags) == 1, diags
    return diags[0]


def test_negative_and_positive_indexes_name_nodes():
    d = _one("  - a: {op: linear, out: 4}\n  - b: {op: relu}\n  - c: {op: add, from: [-2, 1]}\n")
    assert d.code == "ARC102" and (d.span.line, d.span.col) == (8, 24)
    assert d.hint.startswith("write `from: [a, b]` (-2 is `a`, 2 nodes before `c`; 1 is `b`, node 1 of the list")


def test_an_index_past_the_list_gets_the_general_hint():
    # (on `add`, `[a, 7]` is a + 7: numbers are operands of elementwise ops; concat takes tensors)
    d = _one("  - a: {op: linear, out: 4}\n  - c: {op: concat, dim: 1, from: [a, 7]}\n")
    assert "names nodes, not layer indexes; got [a, 7]" in d.message
    assert d.hint.startswith("write the names of the nodes to read")


def test_names_and_strings_are_untouched():
    assert not [d for d in lint_text(HEAD + "  - a: {op: add, from: [x, y]}\n").diagnostics if d.severity == "error"]
