"""Shapes honest at every size (issue 11 item 4): a shape query on a symbolic dim is refused with a
located ARC208 instead of silently taking the example size; an upsample to another tensor's size
reads it at run time (module correct at a second size, torch.export keeps the dim dynamic);
verification runs the one compiled module at two sizes, so a size baked in at the example fails;
block param defaults may query the block's inputs."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import archc
from archc.diagnostics import DiagnosticError

torch = pytest.importorskip("torch")


def _write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip())
    return p


SYMBOLIC_QUERY = """
archc: 1
name: q
symbols: {B: {example: 2}, H: {example: 8, min: 2}, W: {example: 8, min: 2}}
inputs:
  x: {shape: [B, 4, H, W]}
layers:
  - f: {op: flatten, start_dim: 2}
  - t: {op: transpose, dim0: 1, dim1: 2}
  - fc: {op: linear, out: "${dim(f, 2)}"}
outputs:
  y: {from: fc}
"""


def test_query_on_symbolic_dim_is_located_diagnostic(tmp_path):
    # before: `out` silently became 64 (H*W at the example), a linear [B, H*W, 4] -> [B, H*W, 64]
    # that type-checks and compiles, with a width that follows the example size
    p = _write(tmp_path, SYMBOLIC_QUERY)
    with pytest.raises(DiagnosticError) as ei:
        archc.infer(p)
    diags = [d for d in ei.value.diagnostics if d.code == "ARC208"]
    assert diags, [str(d) for d in ei.value.diagnostics]
    d = diags[0]
    assert "`fc.out`" in d.message and "`dim(f, 2)`" in d.message and "H*W" in d.message, d.message
    assert "64" in d.message  # the example value is named as what it would have been, not used
    assert d.span is not None and d.span.line == 9 and d.span.col == 30  # points at the call in `out:`


def test_query_on_fixed_dim_still_works(tmp_path):
    text = SYMBOLIC_QUERY.replace("- f: {op: flatten, start_dim: 2}", "- f: {op: relu}").replace(
        "  - t: {op: transpose, dim0: 1, dim1: 2}\n", "")
    text = text.replace('{op: linear, out: "${dim(f, 2)}"}', '{op: conv2d, out: "${channels(f) * 2}", kernel: 1}')
    p = _write(tmp_path, text)
    g = archc.infer(p)
    fc = next(n for n in g.nodes if n.path == "fc")
    assert fc.attrs.out == 8


BLOCK_DEFAULT = """
archc: 1
name: bd
symbols: {B: {example: 2}, H: {example: 8}, W: {example: 8}}
inputs:
  x: {shape: [B, 6, H, W]}
blocks:
  expand:
    params:
      t: 2.0
      hidden: {type: int, default: "${round(channels(x) * t)}"}
    layers:
      - conv: {op: conv2d, out: "${hidden}", kernel: 1}
layers:
  - a: {block: expand}
  - b: {block: expand, args: {t: 0.5}}
outputs:
  y: {from: b}
"""


def test_block_default_with_shape_query(tmp_path):
    g = archc.infer(_write(tmp_path, BLOCK_DEFAULT))
    outs = {n.path: n.outputs[0].shape[1] for n in g.nodes}
    assert outs["a.conv"] == 12 and outs["b.conv"] == 6


UPSAMPLE_LIKE = """
archc: 1
name: up
symbols: {B: {example: 2}, H: {example: 12, min: 4}, W: {example: 10, min: 4}}
inputs:
  x: {shape: [B, 3, H, W]}
layers:
  - down: {op: conv2d, out: 3, kernel: 3, stride: 2, padding: 1}
  - up: {op: upsample, from: [down, x], mode: nearest}
  - cat: {op: concat, from: [up, x], dim: 1}
outputs:
  y: {from: cat}
"""


def test_upsample_to_skip_size_is_symbolic_and_runs_at_two_sizes(tmp_path):
    p = _write(tmp_path, UPSAMPLE_LIKE)
    g = archc.infer(p)
    up = next(n for n in g.nodes if n.path == "up")
    assert [str(d) for d in up.outputs[0].shape[2:]] == ["H", "W"]
    gm = archc.compile(p)
    for h, w in ((12, 10), (13, 7)):  # the example, and sizes odd where a baked size would break
        y = gm(torch.randn(2, 3, h, w))
        assert tuple(y.shape) == (2, 6, h, w)


def test_upsample_to_skip_size_exports_dynamic(tmp_path):
    gm = archc.compile(_write(tmp_path, UPSAMPLE_LIKE))
    from torch.export import Dim, export

    H, W = Dim("H", min=4, max=64), Dim("W", min=4, max=64)
    ep = export(gm, (torch.randn(2, 3, 12, 10),), dynamic_shapes=({2: H, 3: W},))
    y = ep.module()(torch.randn(2, 3, 13, 7))
    assert tuple(y.shape) == (2, 6, 13, 7)


def test_upsample_second_input_with_size_is_refused(tmp_path):
    p = _write(tmp_path, UPSAMPLE_LIKE.replace("mode: nearest}", "mode: nearest, size: 4}"))
    with pytest.raises(DiagnosticError) as ei:
        archc.infer(p)
    assert any(d.code == "ARC204" and "second input" in d.message for d in ei.value.diagnostics)


def test_verification_catches_a_size_baked_at_the_example(tmp_path, monkeypatch):
    import torch.nn.functional as F

    import archc.ops.resize as resize
    from archc.codegen.verify import verification_envs, verify, verify_all_sizes

    def baked(x, ref, mode="nearest", align_corners=None):  # the example's size, concretised
        return F.interpolate(x, size=(12, 10), mode=mode, align_corners=align_corners)

    p = _write(tmp_path, UPSAMPLE_LIKE)
    g = archc.infer(p)
    envs = verification_envs(g)
    assert len(envs) == 2 and envs[0] == g.example_env and envs[1]["H"] != 12 and envs[1]["W"] != 10
    monkeypatch.setattr(resize, "interpolate_like", baked)
    gm = archc.compile(p, verify=False)
    assert verify(gm, g) == []  # at the example alone, the baked module passes
    diags = verify_all_sizes(gm, g)
    assert diags and all(d.code == "ARC602" for d in diags)
    assert f"H={envs[1]['H']}" in diags[0].message, diags[0].message
    with pytest.raises(DiagnosticError) as ei:  # and so does the pipeline's verify stage
        archc.compile(p)
    assert any(d.code == "ARC602" for d in ei.value.diagnostics)
