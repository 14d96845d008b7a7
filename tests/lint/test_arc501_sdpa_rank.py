"""ARC501 flags `sdpa` on inputs torch's ONNX exporter does not take (it asserts 4-D q, k, v), at any
opset; 4-D sdpa (the zoo's attention) is not flagged."""
from __future__ import annotations

import textwrap

import pytest

from archc.lint_driver import LintConfig, LintOptions
from archc.lint_driver.engine import Linter

SPEC = textwrap.dedent("""\
    archc: 1
    name: sdpa_rank
    symbols:
      B: {example: 2, min: 1}
    inputs:
      q: {shape: [B, 2, SHAPE 5, 4], dtype: float32}
      k: {shape: [B, 2, SHAPE 7, 4], dtype: float32}
      v: {shape: [B, 2, SHAPE 7, 6], dtype: float32}
    layers:
      - att: {op: sdpa, from: [q, k, v]}
    outputs:
      y: att
    """)


def _arc501(tmp_path, extra: str, opset: int = 18):
    p = tmp_path / "sdpa.yaml"
    p.write_text(SPEC.replace("SHAPE ", extra))
    result = Linter(LintOptions(config=LintConfig(), opset=opset)).lint_file(p)[0]
    return [d for d in result.diagnostics if d.code == "ARC501"]


@pytest.mark.parametrize("opset", [18, 23])
def test_sdpa_on_5d_inputs_is_flagged_at_any_opset(tmp_path, opset):
    (d,) = _arc501(tmp_path, "3, ", opset)
    assert "`att` (sdpa) cannot be exported to ONNX at any opset" in d.message and "4-D" in d.message
    assert d.span.line == 10 and d.severity == "warning"


def test_sdpa_on_4d_inputs_is_not_flagged(tmp_path):
    assert _arc501(tmp_path, "") == []
