"""Sizes from other tensors stay symbolic (issue 11, Deliver 4): `reshape`/`unflatten` sizes written
as shape queries of another node (`${dim(x, 2)}`, `${channels(y)}`) on symbolic dims become symbolic
dims of the attribute and of the static shape; the lowering reads them from the inputs at run time,
so the module is right at every size, verification passes at two sizes, and pt2/ONNX keep the
symbols dynamic. Where one number is needed (a linear's width, a comparison, `/`), ARC208 stays."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import archc
from archc.diagnostics import DiagnosticError
from archc.ir.dims import dim_str

torch = pytest.importorskip("torch")

# x [B, 4, H, W] -> tokens [B, H*W, 4] -> back to a grid by another node's H (unflatten) and to
# [B, 4, W, H]-ordered memory by x's W (reshape, -1 inferred), and to x's dims by name (reshape)
SPEC = """
archc: 1
name: grid
symbols: {B: {example: 2}, H: {example: 8, min: 2}, W: {example: 6, min: 2}}
inputs:
  x: {shape: [B, 4, H, W]}
layers:
  - f: {op: flatten, start_dim: 2}
  - t: {op: transpose, dim0: 1, dim1: 2}
  - back: {op: transpose, dim0: 1, dim1: 2}
  - grid: {op: unflatten, dim: 2, sizes: ["${dim(x, 2)}", -1]}
  - r: {op: reshape, from: f, shape: [0, 0, "${dim(x, 3)}", -1]}
  - r2: {op: reshape, from: t, shape: ["${dim(x, 0)}", "${dim(f, 2) // dim(x, 2) * 1}", "${channels(x) * 1}", "${dim(x, 2)}"]}
outputs:
  grid: {from: grid}
  r: {from: r}
  r2: {from: r2}
"""


def _write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip())
    return p


def _diags(p: Path, code: str):
    with pytest.raises(DiagnosticError) as ei:
        archc.infer(p)
    found = [d for d in ei.value.diagnostics if d.code == code]
    assert found, [str(d) for d in ei.value.diagnostics]
    return found


def test_sizes_from_other_nodes_are_symbolic(tmp_path):
    p = _write(tmp_path, SPEC.replace('"${dim(f, 2) // dim(x, 2) * 1}"', '"${dim(x, 3)}"'))
    g = archc.infer(p)
    shapes = {n.path: "[" + ", ".join(dim_str(d) for d in n.outputs[0].shape) + "]" for n in g.nodes}
    assert shapes["grid"] == "[B, 4, H, W]"
    assert shapes["r"] == "[B, 4, W, H]"          # -1 divided out exactly: H*W / W
    assert shapes["r2"] == "[B, W, 4, H]"
    grid = next(n for n in g.nodes if n.path == "grid")
    assert [dim_str(s) for s in grid.attrs.sizes] == ["H", "-1"]   # the attribute holds the dim, not 8


def test_division_by_a_symbolic_size_is_refused(tmp_path):
    (d,) = _diags(_write(tmp_path, SPEC), "ARC208")
    assert "`//` by a symbolic size" in d.message and "`dim(x, 2)`" in d.message, d.message
    assert d.span is not None and d.span.line == 12  # r2's line


@pytest.mark.parametrize("expr,needle", [
    ("${dim(x, 2) / 2}", "`/`"),
    ("${dim(x, 2) * 0.5}", "a float"),
    ("${dim(x, 2) if dim(x, 2) > 4 else 4}", "comparison `>`"),
    ("${max(dim(x, 2), 4)}", "ordering"),
])
def test_a_symbolic_size_where_one_number_is_needed_is_arc208(tmp_path, expr, needle):
    text = SPEC.replace('"${dim(f, 2) // dim(x, 2) * 1}"', '"${dim(x, 3)}"').replace(
        'sizes: ["${dim(x, 2)}", -1]', f'sizes: ["{expr}", -1]')
    (d,) = _diags(_write(tmp_path, text), "ARC208")
    assert needle in d.message and "H" in d.message and "8" in d.message, d.message
    assert d.span is not None and d.span.line == 10  # grid's line


def test_arc208_stays_where_an_attribute_needs_one_number(tmp_path):
    # a linear's width is one number: the query on H*W is refused at the call, as before
    text = SPEC.replace('- grid: {op: unflatten, dim: 2, sizes: ["${dim(x, 2)}", -1]}',
                        '- grid: {op: linear, out: "${dim(f, 2)}"}').replace('"${dim(f, 2) // dim(x, 2) * 1}"', '"${dim(x, 3)}"')
    (d,) = _diags(_write(tmp_path, text), "ARC208")
    assert "`dim(f, 2)` is `H*W`" in d.message and "`grid.out`" in d.message


def test_minus_one_that_does_not_divide_is_arc204(tmp_path):
    text = SPEC.replace('"${dim(f, 2) // dim(x, 2) * 1}"', '"${dim(x, 3)}"').replace(
        'shape: [0, 0, "${dim(x, 3)}", -1]', 'shape: [0, 0, "${dim(x, 3) + 1}", -1]')
    (d,) = _diags(_write(tmp_path, text), "ARC204")
    assert "not a multiple of `W + 1`" in d.message, d.message


def _module(tmp_path):
    p = _write(tmp_path, SPEC.replace('"${dim(f, 2) // dim(x, 2) * 1}"', '"${dim(x, 3)}"'))
    return p, archc.compile(p)


def test_module_is_right_at_two_sizes(tmp_path):
    _, gm = _module(tmp_path)
    for h, w in ((8, 6), (5, 9)):   # the example and a second size: a baked-in 8 or 6 would break
        x = torch.randn(2, 4, h, w)
        grid, r, r2 = gm(x)
        torch.testing.assert_close(grid, x, rtol=0, atol=0)
        torch.testing.assert_close(r, x.reshape(2, 4, w, h), rtol=0, atol=0)
        torch.testing.assert_close(r2, x.flatten(2).transpose(1, 2).reshape(2, w, 4, h), rtol=0, atol=0)


def test_verification_catches_a_size_baked_at_the_example(tmp_path, monkeypatch):
    import archc.ops._modules as mods
    from archc.codegen.verify import verify, verify_all_sizes

    p, _ = _module(tmp_path)
    g = archc.infer(p)
    real = mods.dim_size
    monkeypatch.setattr(mods, "dim_size", lambda x, d: {2: 8, 3: 6}.get(d, real(x, d)))  # the example's H, W
    gm = archc.compile(p, verify=False)
    assert verify(gm, g) == []              # at the example the baked module passes
    diags = verify_all_sizes(gm, g)         # at the second size it does not
    assert diags and all(d.code == "ARC602" for d in diags)
    monkeypatch.setattr(mods, "dim_size", real)
    assert verify_all_sizes(archc.compile(p, verify=False), g) == []


def test_source_reads_the_sizes_at_run_time(tmp_path):
    from archc.codegen.pysource import generate

    p, gm = _module(tmp_path)
    src = generate(gm, archc.infer(p))
    assert "size_H = dim_size(x, 2)" in src and "sizes=(size_H, -1)" in src, src
