"""Issue 11 item 5: ARC001 shows a source line and a caret, also when the YAML error is found at
the end of the stream (an unclosed bracket or quote), where the mark lies on an empty line."""
from __future__ import annotations

import pytest

from archc.diagnostics import DiagnosticError
from archc.spec.yaml_loader import load_yaml_text


@pytest.mark.parametrize("text, line, col", [
    ('archc: 1\nname: t\nfoo: [a, b\n', 3, 11),      # unclosed flow sequence
    ('archc: 1\nname: "t\n', 2, 9),                  # unclosed quote
    ('archc: 1\nname: t\nx: {a: 1\n\n\n', 3, 9),     # trailing blank lines
    ('archc: 1\nname: t\n  inputs: x\n', 3, 9),      # an error inside the text keeps its mark
])
def test_arc001_points_at_a_source_line(text, line, col):
    with pytest.raises(DiagnosticError) as e:
        load_yaml_text(text, "s.yaml")
    d = e.value.diagnostics[0]
    assert d.code == "ARC001"
    assert (d.span.line, d.span.col) == (line, col)
    assert text.splitlines()[d.span.line - 1].strip(), "the span's line is empty"
