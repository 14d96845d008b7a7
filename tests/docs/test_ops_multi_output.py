"""Issue 11 item 5: op summaries are whole sentences, and the multi-output syntax the op docs give
(`parts[1]`, quoted in flow-style YAML) is what the language accepts."""
from __future__ import annotations

import re
import textwrap

import pytest

import archc
from archc.errors import DiagnosticError
from archc.ops import load_ops
from archc.report.ops import first_sentence
from tests.conftest import ROOT


def test_summaries_are_not_cut_at_abbreviations_or_ellipses():
    ops = load_ops()
    # single-sentence docs whose "e.g." / "..." the old splitter cut at
    assert first_sentence(ops["unflatten"].doc) == ops["unflatten"].doc
    assert first_sentence(ops["slice"].doc) == ops["slice"].doc
    for name, op in ops.items():
        s = first_sentence(op.doc)
        assert not s.endswith(("e.g.", "i.e.", "...")), (name, s)
        assert s.count("(") == s.count(")") and s.count("`") % 2 == 0, (name, s)
    assert first_sentence("One. Two.") == "One."


def _split_section() -> str:
    text = (ROOT / "docs" / "ops.md").read_text(encoding="utf-8")
    return text.split("### `split`", 1)[1].split("\n### ", 1)[0]


def _spec(line: str) -> str:
    return textwrap.dedent("""\
        archc: 1
        name: t
        inputs:
          x: {shape: [2, 8, 4]}
        layers:
          - parts: {op: split, sizes: [3, 5], dim: 1}
        """) + "  " + line + "\noutputs: {y: second}\n"


def test_split_doc_example_elaborates(tmp_path):
    sec = _split_section()
    assert "node.0" not in sec
    m = re.search(r"`(- second: \{[^`]*\})`", sec)
    assert m, "docs/ops.md's split section gives no example of using one output"
    example = m.group(1)
    assert '"parts[1]"' in example and "quoted" in sec
    p = tmp_path / "s.yaml"
    p.write_text(_spec(example))
    g = archc.infer(p)
    assert [str(d) for d in g.type_of(g.outputs["y"].ref).shape] == ["2", "5", "4"]


def test_dotted_output_reference_points_to_brackets(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(_spec("- second: {op: relu, from: parts.1}"))
    with pytest.raises(DiagnosticError) as e:
        archc.infer(p)
    d = [d for d in e.value.diagnostics if d.code == "ARC104"][0]
    assert '"parts[1]"' in (d.hint or "")
