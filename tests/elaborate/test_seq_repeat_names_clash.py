"""A `repeat_names` inside a `seq` that gives a repetition the positional name of a LATER item of the
same seq is a located ARC102 (the code of the existing earlier-item clash), not an internal error
(before: exit 4, "node features.3 is defined twice" / "a node map must relate each IR path to one fx node")."""
from __future__ import annotations

import textwrap

import pytest

import archc
from archc.errors import DiagnosticError


def _diags(tmp_path, seq: str):
    p = tmp_path / "s.yaml"
    p.write_text("archc: 1\nname: t\ninputs: {x: {shape: [2, 4]}}\nlayers:\n  - features:\n      seq:\n"
                 + textwrap.indent(textwrap.dedent(seq), " " * 8))
    with pytest.raises(DiagnosticError) as ei:
        archc.infer(p)
    return [d for d in ei.value.diagnostics if d.severity == "error"]


def test_repeat_names_taking_a_later_items_position(tmp_path):
    (d,) = _diags(tmp_path, """\
        - {op: linear, out: 4}
        - {op: relu, repeat: 2, repeat_names: "${i + 2}"}
        - {op: linear, out: 4}
        """)
    assert d.code == "ARC102"
    assert "`features.1.repeat_names` gives a repetition the name '3', which a later item of `features` has" in d.message
    assert d.span is not None and (d.span.line, d.span.col) == (8, 47)   # the repeat_names value
    (rel,) = d.related
    assert "`features.3` by its position" in rel.message and rel.span.line == 9


def test_later_repeated_item_named_by_position(tmp_path):
    (d,) = _diags(tmp_path, """\
        - {op: relu, repeat: 2, repeat_names: "${i + 1}"}
        - {op: relu, repeat: 2}
        """)
    assert d.code == "ARC102" and "name '2', which a later item" in d.message, d.message
    assert d.span is not None and d.span.line == 7


def test_names_that_do_not_clash_still_work(tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text("archc: 1\nname: t\ninputs: {x: {shape: [2, 4]}}\nlayers:\n  - features:\n      seq:\n"
                 "        - {op: linear, out: 4}\n        - {op: relu, repeat: 2, repeat_names: \"unit_${i}\"}\n"
                 "        - {op: linear, out: 4}\n")
    g = archc.infer(p)
    assert [n.path for n in g.nodes] == ["features.0", "features.unit_0", "features.unit_1", "features.3"]
