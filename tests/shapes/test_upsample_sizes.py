"""`upsample`'s `size` from other nodes' shapes (issue 14, Deliver 5): `size: ["${dim(skip, 2)}", ...]`
on symbolic dims stays symbolic in the attribute and in the static shape, the lowering reads the size
from the inputs at run time (so the module is right at every size), and where one number is needed
(a float, a comparison) it is ARC208, as for `reshape`/`unflatten`."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import archc
from archc.diagnostics import DiagnosticError
from archc.ir.dims import dim_str

torch = pytest.importorskip("torch")

# a DeepLab-like pattern: a stride-2 feature map, its global pool upsampled back to the feature map's
# size, the sum upsampled to the input's size, and a size computed from a query (2*H, square)
SPEC = """
archc: 1
name: up
symbols: {B: {example: 2}, H: {example: 16, min: 8}, W: {example: 12, min: 8}}
inputs:
  x: {shape: [B, 4, H, W]}
layers:
  - down: {op: conv2d, out: 8, kernel: 3, stride: 2, padding: 1}
  - pool: {op: adaptive_avg_pool2d, output_size: 1}
  - up:   {op: upsample, size: ["${dim(down, 2)}", "${dim(down, 3)}"], mode: bilinear, align_corners: false}
  - add:  {op: add, from: [up, down]}
  - full: {op: interpolate, size: ["${dim(x, 2)}", "${dim(x, 3)}"], mode: bilinear, align_corners: false}
  - sq:   {op: upsample, from: down, size: "${dim(x, 2) * 2}"}
outputs:
  y: {from: full}
  s: {from: sq}
"""


def _write(tmp_path: Path, text: str = SPEC) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(textwrap.dedent(text).lstrip())
    return p


def _shapes(g) -> dict[str, str]:
    return {n.path: "[" + ", ".join(dim_str(d) for d in n.outputs[0].shape) + "]" for n in g.nodes}


def test_sizes_from_other_nodes_stay_symbolic(tmp_path):
    g = archc.infer(_write(tmp_path))
    s = _shapes(g)
    assert s["up"] == "[B, 8, (H - 1)//2 + 1, (W - 1)//2 + 1]"    # the skip's size, not 8x6
    assert s["full"] == "[B, 8, H, W]"
    assert s["sq"] == "[B, 8, 2*H, 2*H]"                          # one size for both spatial dims
    up = next(n for n in g.nodes if n.path == "up")
    assert [dim_str(v) for v in up.attrs.size] == ["(H - 1)//2 + 1", "(W - 1)//2 + 1"]
    assert not g.constraints or all("H" not in str(c) or "%" not in str(c) for c in g.constraints)


def test_module_is_right_at_two_sizes(tmp_path):
    import torch.nn.functional as F

    p = _write(tmp_path)
    gm = archc.compile(p)
    sd = gm.state_dict()
    for h, w in ((16, 12), (11, 9)):   # the example and an odd size: a baked-in 16x12 would break
        x = torch.randn(1, 4, h, w)
        y, s = gm(x)
        down = F.conv2d(x, sd["down.weight"], sd["down.bias"], stride=2, padding=1)
        up = F.interpolate(F.adaptive_avg_pool2d(down, 1), size=down.shape[2:], mode="bilinear", align_corners=False)
        want = F.interpolate(up + down, size=(h, w), mode="bilinear", align_corners=False)
        torch.testing.assert_close(y, want, rtol=1e-5, atol=1e-6)
        assert tuple(s.shape) == (1, 8, 2 * h, 2 * h)
        torch.testing.assert_close(s, F.interpolate(down, size=(2 * h, 2 * h)), rtol=0, atol=0)


def test_verification_passes_at_two_sizes_and_catches_a_baked_size(tmp_path, monkeypatch):
    import archc.ops._modules as mods
    from archc.codegen.verify import verify, verify_all_sizes

    p = _write(tmp_path)
    g = archc.infer(p)
    assert verify_all_sizes(archc.compile(p, verify=False), g) == []
    real = mods.dim_size
    monkeypatch.setattr(mods, "dim_size", lambda x, d: {2: 16, 3: 12}.get(d, real(x, d)))  # the example's H, W
    gm = archc.compile(p, verify=False)
    assert verify(gm, g) == []
    diags = verify_all_sizes(gm, g)
    assert diags and all(d.code == "ARC602" for d in diags)


def test_source_reads_the_sizes_at_run_time(tmp_path):
    from archc.codegen.pysource import generate

    p = _write(tmp_path)
    src = generate(archc.compile(p), archc.infer(p))
    assert "size_H = dim_size(x, 2)" in src and "size=(size_H, size_W)" in src, src


def _diag(p: Path, code: str):
    with pytest.raises(DiagnosticError) as ei:
        archc.infer(p)
    found = [d for d in ei.value.diagnostics if d.code == code]
    assert found, [str(d) for d in ei.value.diagnostics]
    return found[0]


@pytest.mark.parametrize("expr,needle", [
    ("${dim(x, 2) * 0.5}", "a float"),
    ("${dim(x, 2) / 2}", "`/`"),
    ("${dim(x, 2) if dim(x, 2) > 8 else 8}", "comparison `>`"),
])
def test_a_size_where_one_number_is_needed_is_arc208(tmp_path, expr, needle):
    d = _diag(_write(tmp_path, SPEC.replace('size: "${dim(x, 2) * 2}"', f'size: "{expr}"')), "ARC208")
    assert needle in d.message and "`dim(x, 2)`" in d.message, d.message
    assert d.span is not None and d.span.line == 12   # sq's line


def test_a_size_derived_through_other_ops_is_read_from_the_input(tmp_path):
    # z [B, 4, K] -> r [B, 4, 2, K//2]: the size `K//2` of r is computed from z's K at run time
    text = SPEC.replace("x: {shape: [B, 4, H, W]}", "x: {shape: [B, 4, H, W]}\n  z: {shape: [B, 4, K]}").replace(
        "W: {example: 12, min: 8}}", "W: {example: 12, min: 8}, K: {example: 6, multiple_of: 2}}").replace(
        'size: "${dim(x, 2) * 2}"', 'size: "${dim(r, 3) + 1}"').replace(
        "  - sq:", "  - r: {op: reshape, from: z, shape: [0, 0, 2, -1]}\n  - sq:")
    p = _write(tmp_path, text)
    assert _shapes(archc.infer(p))["sq"] == "[B, 8, K//2 + 1, K//2 + 1]"
    gm = archc.compile(p)
    for k in (6, 10):
        _, s = gm(torch.randn(1, 4, 16, 12), torch.randn(1, 4, k))
        assert tuple(s.shape) == (1, 8, k // 2 + 1, k // 2 + 1)


def test_a_size_below_one_is_still_arc204(tmp_path):
    d = _diag(_write(tmp_path, SPEC.replace('size: "${dim(x, 2) * 2}"', "size: [0, 4]")), "ARC204")
    assert "size must be >= 1, got [0, 4]" in d.message


def test_size_and_a_second_input_together_is_arc204(tmp_path):
    d = _diag(_write(tmp_path, SPEC.replace('from: down, size: "${dim(x, 2) * 2}"',
                                            'from: [down, x], size: "${dim(x, 2)}"')), "ARC204")
    assert "give neither `scale_factor` nor `size`" in d.message


def test_tokens_of_a_strided_grid_unflatten_back_with_minus_one(tmp_path):
    # SegFormer's pattern: a stride-4 patch conv, tokens [B, h*w, C], back to [B, C, h, w] with h
    # from the conv and w inferred: (h*w) / h where h = (H - 1)//4 + 1 has two terms
    text = """
    archc: 1
    name: tokens
    symbols: {B: {example: 1}, H: {example: 32, min: 8}, W: {example: 24, min: 8}}
    inputs:
      x: {shape: [B, 3, H, W]}
    layers:
      - patch: {op: conv2d, out: 8, kernel: 7, stride: 4, padding: 3}
      - flat:  {op: flatten, start_dim: 2}
      - grid:  {op: unflatten, dim: 2, sizes: ["${dim(patch, 2)}", -1]}
      - r:     {op: reshape, from: flat, shape: [0, 0, -1, "${dim(patch, 3)}"]}
      - add:   {op: add, from: [grid, patch]}
    outputs:
      y: {from: add}
      r: {from: r}
    """
    p = _write(tmp_path, text)
    g = archc.infer(p)
    s = _shapes(g)
    assert s["grid"] == s["r"] == "[B, 8, (H - 1)//4 + 1, (W - 1)//4 + 1]"
    assert not g.constraints, g.constraints      # exact: no divisibility requirement recorded
    gm = archc.compile(p)
    for h, w in ((32, 24), (29, 17)):
        x = torch.randn(1, 3, h, w)
        y, r = gm(x)
        hh, ww = (h - 1) // 4 + 1, (w - 1) // 4 + 1
        assert tuple(y.shape) == tuple(r.shape) == (1, 8, hh, ww)


def test_exact_quotient_divides_polynomials():
    from archc.ir.dims import floordiv, sym
    from archc.ops.tensor import exact_quotient

    H, W = sym("H"), sym("W")
    a, b = floordiv(H - 1, 4) + 1, floordiv(W - 1, 4) + 1
    assert exact_quotient(a * b, a) == b and exact_quotient(a * b, b) == a
    assert exact_quotient(3 * H * W, H) == 3 * W
    assert exact_quotient(2 * H * W + 2 * H, W + 1) == 2 * H
    assert exact_quotient(a * b + 1, a) is None and exact_quotient(H * W, H + 1) is None
