"""A `from:` that joins tensors of two different symbolic sizes (a U-Net skip from the wrong level):
the error names the join, both inputs with their shapes and the `from:` that chose them, and the
joins downstream of it (which only repeat the mistake) are not reported (issue 12, item 9)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from archc.diagnostics import DiagnosticError
from archc.ir import dims as D
from archc.pipeline import Options, run

REPO = Path(__file__).resolve().parents[2]
UNET = (REPO / "specs" / "unet.yaml").read_text()


def _errors(tmp_path: Path, text: str, name: str = "spec.yaml", **opts) -> list:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(DiagnosticError) as ei:
        run(p, Options(**opts), until="check")
    return [d for d in ei.value.diagnostics if d.severity == "error"]


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_unet_skip_from_the_wrong_level(tmp_path: Path) -> None:
    shutil.copytree(REPO / "specs" / "lib", tmp_path / "lib")
    text = UNET.replace("from: [up1, down2]", "from: [up1, down1]")
    assert text != UNET
    errors = _errors(tmp_path, text, "unet_wrong.yaml")
    # one error for the one mistake: not one per symbol (H, W), nor one per later join (up3, up4)
    assert [d.code for d in errors] == ["ARC201"], [d.message for d in errors]
    (d,) = errors
    assert d.message.startswith(
        "`up2.cat` (concat) joins `down1` [B, 128, H//2, W//2], taken by the `from:` of `up2`, "
        "and `up2.upconv` [B, 256, 2*(H//8), 2*(W//8)]; no size of H and W makes them agree ("), d.message
    assert "`H//2` vs `2*(H//8)`" in d.message and "`W//2` vs `2*(W//8)`" in d.message
    assert "up3" not in d.message and "does not satisfy" not in d.message
    # it points at the `from:` that took the wrong tensor, not at the `H:` declaration
    line = _line_of(text, "- up2:")
    assert d.span.file.endswith("unet_wrong.yaml") and (d.span.line, d.span.col) == (line, text.splitlines()[line - 1].index("[up1") + 1)
    notes = [r.message for r in d.related]
    assert notes[0] == "the join `up2.cat` is here" and d.related[0].span.file.endswith("lib/unet.yaml")
    assert "`down1` produces [B, 128, H//2, W//2]" in notes
    assert "`up2.upconv` produces [B, 256, 2*(H//8), 2*(W//8)]" in notes
    assert d.hint and "from:" in d.hint


TOP = """\
archc: 1
name: halves
symbols:
  B: {example: 1}
  H: {example: 8}
inputs:
  x: {shape: [B, 4, H, 8]}
  y: {shape: [B, 4, H, 8]}
layers:
  - pool: {op: max_pool2d, kernel: [2, 1], from: x}
  - cat:  {op: concat, from: [pool, x], dim: 1}
  - cat2: {op: concat, from: [cat, y], dim: 1}
"""


def test_a_join_in_the_spec_points_at_its_own_from(tmp_path: Path) -> None:
    errors = _errors(tmp_path, TOP)
    assert [d.code for d in errors] == ["ARC201"], [d.message for d in errors]  # cat2 only repeats it
    (d,) = errors
    assert d.message == ("`cat` (concat) joins `pool` [B, 4, H//2, 8] and `x` [B, 4, H, 8]; no size of H makes "
                         "them agree (`concat` dim 2 of inputs 0 and 1: `H//2` vs `H`)")
    assert (d.span.line, d.span.col) == (11, 30)
    assert [r.message for r in d.related] == ["`pool` produces [B, 4, H//2, 8]", "`x` produces [B, 4, H, 8]"]


def test_independent_mistakes_are_each_reported(tmp_path: Path) -> None:
    text = TOP.replace("  - cat2: {op: concat, from: [cat, y], dim: 1}\n",
                       "  - pool2: {op: max_pool2d, kernel: [2, 1], from: y}\n"
                       "  - cat2: {op: concat, from: [y, pool2], dim: 1}\n")
    errors = _errors(tmp_path, text)
    assert [(d.code, d.message.split(" ")[0]) for d in errors] == [("ARC201", "`cat`"), ("ARC201", "`cat2`")]
    assert errors[1].span.line == 13


def test_a_satisfiable_rest_still_checks_the_example(tmp_path: Path) -> None:
    # besides the wrong join, the example H=9 breaks the (satisfiable) H % 2 of another branch
    text = TOP.replace("H: {example: 8}", "H: {example: 9}").replace(
        "  - cat2: {op: concat, from: [cat, y], dim: 1}\n",
        "  - p3: {op: max_pool2d, kernel: [2, 1], from: y}\n"
        "  - u3: {op: conv_transpose2d, out: 4, kernel: [2, 1], stride: [2, 1]}\n"
        "  - cat3: {op: concat, from: [y, u3], dim: 1}\n")
    codes = [(d.code, d.message.split(" ")[0]) for d in _errors(tmp_path, text)]
    assert ("ARC201", "`cat`") in codes and ("ARC203", "H") in codes, codes


def test_first_unsatisfiable_names_the_constraint_that_closes_every_size() -> None:
    H = D.sym("H")
    ok = D.Constraint(D.floordiv(H, 8), D.mul(2, D.floordiv(H, 16)))        # H % 16 in {0..7}: fine alone
    wrong = D.Constraint(D.floordiv(H, 2), D.mul(2, D.floordiv(H, 8)))      # never, for H >= 16
    again = D.Constraint(D.floordiv(H, 2), D.mul(2, D.floordiv(H, 2)))
    rng = D.SymbolRange(min=16)
    assert D.first_unsatisfiable("H", [ok, wrong, again], rng) == 1
    assert D.first_unsatisfiable("H", [ok], rng) is None
    assert D.first_unsatisfiable("H", [], rng) is None
