"""The elaborator records where each symbolic equality came from as a typed `ConstraintOrigin`."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from archc.diagnostics import DiagnosticError
from archc.ir.graph import ConstraintOrigin, ValueRef
from archc.pipeline import Options, run

SPEC = """\
archc: 1
name: halves
symbols:
  B: {example: 1}
  H: {example: 8}
inputs:
  x: {shape: [B, 4, H, 8]}
layers:
  - pool: {op: max_pool2d, kernel: 2}
  - up:   {op: conv_transpose2d, out: 4, kernel: 2, stride: 2}
  - cat:  {op: concat, from: [x, up], dim: 1}
"""


def _graph(tmp_path: Path, text: str, **opts):
    p = tmp_path / "halves.yaml"
    p.write_text(text)
    return run(p, Options(**opts), until="check")


def test_origin_is_a_frozen_dataclass():
    o = ConstraintOrigin("a.b", "concat: dim 2", (0, 1), None, (ValueRef("x", is_input=True),))
    assert (o.node, o.what, o.inputs, o.span, o.in_refs) == ("a.b", "concat: dim 2", (0, 1), None,
                                                             (ValueRef("x", is_input=True),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.node = "c"  # type: ignore[misc]


def test_elaborated_constraints_carry_typed_origins(tmp_path):
    u = _graph(tmp_path, SPEC)
    derived = u.graph.constraints
    assert [d.text for d in derived] == ["H % 2 == 0"]
    (c,) = derived[0].constraints
    o = c.origin
    assert isinstance(o, ConstraintOrigin)
    assert o.node == "cat"
    assert o.inputs == (0, 1)
    assert o.span is not None and o.span.line == 11
    assert o.in_refs == (ValueRef("x", is_input=True), ValueRef("up"))


def test_origin_renders_the_related_note(tmp_path):
    with pytest.raises(DiagnosticError) as ei:
        _graph(tmp_path, SPEC, overrides={"H": 9})
    (d,) = ei.value.diagnostics
    assert d.code == "ARC203"
    (rel,) = d.related
    assert rel.message == "`cat`: `concat` dim 2 of inputs 0 and 1 is 9 (`H`) vs 8 (`2*(H//2)`)"
    assert rel.span is not None and rel.span.line == 11
