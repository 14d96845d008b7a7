"""`archc profile --plot`: the axes read right (linear sweep axis ticked at the swept values, value
labels on the bars, no zero-width bars, a wrapper block opened) and the CLI says what it wrote."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

pytest.importorskip("matplotlib")

runner = CliRunner()

WRAPPED = """
archc: 1
name: wrapped
symbols:
  B: {example: 2}
  H: {example: 32, min: 8}
  W: {example: 32, min: 8}
inputs:
  image: {shape: [B, 3, H, W]}
blocks:
  body:
    layers:
      - c1: {op: conv2d, out: 8, kernel: 3, padding: 1}
      - r1: {op: relu}
      - c2: {op: conv2d, out: 8, kernel: 3, padding: 1}
      - r2: {op: relu}
      - c3: {op: conv2d, out: 16, kernel: 3, padding: 1}
      - r3: {op: relu}
      - c4: {op: conv2d, out: 16, kernel: 3, padding: 1}
      - pool: {op: adaptive_avg_pool2d, output_size: 1}
      - flat: {op: flatten}
      - fc: {op: linear, out: 10}
layers:
  - net: {block: body}
outputs:
  logits: {from: net, kind: logits}
"""


def profile_doc(*args):
    r = runner.invoke(app, ["profile", *map(str, args), "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture
def wrapped(write_spec):
    return write_spec(WRAPPED)


def test_sweep_axis_is_linear_with_the_swept_values_as_ticks(wrapped):
    from archc.profile.plot import figure

    fig = figure(profile_doc(wrapped, "--sweep", "H,W=16,48,64"))
    ax = fig.axes[1]
    assert ax.get_xscale() == "linear"
    assert list(ax.get_xticks()) == [16, 48, 64]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["16", "48", "64"]
    assert ax.get_xlabel() == "H,W"
    assert ax.get_ylim()[0] == 0
    # every point is labelled with its value
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == 3 and all(lab.endswith("GFLOPs") for lab in labels)


def test_bars_carry_values_drop_zeros_and_open_a_wrapper_block(wrapped):
    from archc.profile.plot import breakdown, figure

    doc = profile_doc(wrapped)
    items, zeros = breakdown(doc)
    names = [k for k, _ in items]
    # one top-level block would be one bar: it is opened to its nodes, as `archc graph` does
    assert "net" not in names and {"net.c1", "net.c2", "net.c3", "net.c4", "net.fc"} <= set(names)
    assert all(v > 0 for _, v in items)
    assert zeros == 1  # flatten: no FLOPs, no bar
    assert "net.flat" not in names
    fig = figure(doc)
    ax = fig.axes[0]
    bars = ax.containers[0]
    assert len(bars) == len(items) and min(b.get_width() for b in bars) > 0
    from archc.profile.units import fmt_count

    # each bar's label is its FLOPs (bar_label puts them in ax.texts, in bar order: smallest first)
    assert [t.get_text() for t in ax.texts] == [fmt_count(v) for _, v in items][::-1]
    assert "B=2, H=32, W=32" in ax.get_title() and "1 without FLOPs not shown" in ax.get_title()


def test_plot_says_what_it_wrote(wrapped, tmp_path):
    out = tmp_path / "p.svg"
    r = runner.invoke(app, ["profile", wrapped, "--sweep", "H=16,32", "--plot", str(out)])
    assert r.exit_code == 0, r.output
    assert out.exists()
    assert f"archc: wrote {out} (svg, {out.stat().st_size:,} bytes)" in r.stderr
    r = runner.invoke(app, ["profile", wrapped, "--plot", str(tmp_path / "p.pdf")])
    assert r.exit_code == 2 and "must end in .png or .svg" in r.stderr


def test_two_sweeps_are_a_usage_error(wrapped):
    r = runner.invoke(app, ["profile", wrapped, "--sweep", "H=16,32", "--sweep", "W=16,32"])
    assert r.exit_code == 2, r.output
    assert "--sweep is given 2 times" in r.stderr


def test_sweep_sets_several_symbols_together(wrapped):
    doc = profile_doc(wrapped, "--sweep", "H,W=16,32")
    sw = doc["sweep"]
    assert sw["symbol"] == "H,W" and sw["symbols"] == ["H", "W"]
    assert [(r["symbols"]["H"], r["symbols"]["W"]) for r in sw["rows"]] == [(16, 16), (32, 32)]
    # the convs' MACs scale with H x W: 4x from 16x16 to 32x32
    assert sw["rows"][1]["macs"] > 3.5 * sw["rows"][0]["macs"]
    r = runner.invoke(app, ["profile", wrapped, "--sweep", "H,Q=16,32"])
    assert r.exit_code == 2 and "no symbol 'Q'" in r.stderr
    r = runner.invoke(app, ["profile", wrapped, "--sweep", "H,H=16,32"])
    assert r.exit_code == 2
