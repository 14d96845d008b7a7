"""Issue 11 item 5: ARC301 measures the shortest weighted path; on a network that has skip
connections (too short to help) its message says what it measured, not "no skip connection"."""
from __future__ import annotations

import textwrap

from archc.lint import load_rules
from archc.lint_driver import LintConfig, LintOptions
from archc.lint_driver.engine import Linter
from archc.ops import load_ops

load_rules()
load_ops()

SPEC = textwrap.dedent("""\
    archc: 1
    name: short_skips
    inputs:
      image: {shape: [2, 8, 16, 16], dtype: float32}
    blocks:
      pair:
        layers:
          - c1:  {op: conv2d, out: 8, kernel: 3, padding: 1}
          - c2:  {op: conv2d, out: 8, kernel: 3, padding: 1}
          - c3:  {op: conv2d, out: 8, kernel: 3, padding: 1}
          - add: {op: add, from: [c3, c2]}     # a skip, but around one layer only
    layers:
      - body: {block: pair, repeat: 6}
    outputs:
      features: {from: body, kind: features}
    """)


def test_arc301_message_says_what_it_measured(tmp_path):
    p = tmp_path / "short_skips.yaml"
    p.write_text(SPEC)
    diags = [d for d in Linter(LintOptions(config=LintConfig())).lint_file(p)[0].diagnostics if d.code == "ARC301"]
    assert len(diags) == 1
    msg = diags[0].message
    assert "no skip connection" not in msg
    # each repetition has c1, c2 on the shortest path (c3 is bypassed): 12 weighted layers
    assert "shortest path" in msg and "passes through 12 weighted layers" in msg, msg
