"""No code outside `archc/ops/` names an op: what a pass needs to know about ops it reads from
their registrations (`OPS[node.op].traits`, `.cost`, `.family`), so a plugin op is treated like
a built-in and adding an op is one file.

Every `str` constant in `archc/**/*.py` (outside `archc/ops/`) that equals a registered op's
name is an offender, unless it is in `ALLOWED` (a word that only coincides with an op name; each
entry says why) or in `PENDING_LINT`.
"""
from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

from archc.ops import load_ops

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "archc"

# (file, string) -> why that string is not a reference to the op of the same name
ALLOWED: dict[tuple[str, str], str] = {
    ("archc/ir/dims/__init__.py", "add"): "the Dim algebra's function `add` in `__all__`, not the op",
    ("archc/ir/dims/__init__.py", "mul"): "the Dim algebra's function `mul` in `__all__`, not the op",
    ("archc/lint_driver/config.py", "select"): "the lint configuration key `select` ([tool.archc.lint])",
    ("archc/parity/weights.py", "split"): "a weight-conversion step that splits a tensor (`split`), not the op",
    ("archc/parity/weights.py", "transpose"): "a weight-conversion step that transposes a tensor, not the op",
    ("archc/draw/dot.py", "linear"): "a colour family key of FAMILY_COLORS (`Traits.picture`), not the op",
    ("archc/draw/dot.py", "embedding"): "a colour family key of FAMILY_COLORS (`Traits.picture`), not the op",
    ("archc/draw/dot.py", "attention"): "a colour family key of FAMILY_COLORS (`Traits.picture`), not the op",
    ("archc/codegen/fx.py", "relu"): "torch.nn.init's `nonlinearity=\"relu\"` argument (kaiming gain), not the op",
    ("archc/elaborate/frame.py", "min"): "a symbol's `min:` size bound, not the op",
    ("archc/elaborate/frame.py", "max"): "a symbol's `max:` size bound, not the op",
    ("archc/report/summary.py", "min"): "a symbol's `min` size bound in the check summary, not the op",
    ("archc/report/summary.py", "max"): "a symbol's `max` size bound in the check summary, not the op",
    ("archc/export/dynamic.py", "min"): "Python's builtin `min` offered to a bound's arithmetic, not the op",
    ("archc/export/dynamic.py", "max"): "Python's builtin `max` offered to a bound's arithmetic, not the op",
    ("archc/ir/expr/functions.py", "min"): "the spec expression function `min(...)`, not the op",
    ("archc/ir/expr/functions.py", "max"): "the spec expression function `max(...)`, not the op",
    ("archc/ir/expr/functions.py", "sum"): "the spec expression function `sum(...)`, not the op",
    ("archc/profile/measure.py", "min"): "the fastest timing in a benchmark summary, not the op",
    ("archc/profile/measure.py", "max"): "the slowest timing in a benchmark summary, not the op",
}

# Files that write spec text, as the zoo's YAML does: the ops they put in a spec are named there.
SPEC_WRITERS: dict[str, str] = {
    "archc/parity/mutate.py": "the mutation harness writes mutant specs: the activation it swaps in, the "
                              "norm whose eps it changes, the add it drops, are spec text (a follow-up could "
                              "pick them by `Traits.role`)",
}

# ---------------------------------------------------------------------------------------------
# PENDING_LINT: op names still listed by the lint rules while they were being switched to traits.
# ---------------------------------------------------------------------------------------------
PENDING_LINT: set[tuple[str, str]] = set()  # emptied: the lint rules read op traits


def op_literals() -> Counter:
    """(file, string) -> how often a str constant equal to an op name occurs there."""
    names = set(load_ops())
    found: Counter = Counter()
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("archc/ops/") or rel in SPEC_WRITERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                found[(rel, node.value)] += 1
    return found


def test_no_op_name_literals_outside_ops():
    offenders = sorted(k for k in op_literals() if k not in ALLOWED and k not in PENDING_LINT)
    assert not offenders, (
        "these files name ops; read the op's registration instead (`OPS[node.op].traits`, see "
        "archc/ops/_registry.py `Traits`), or, for a word that only coincides with an op name, add it "
        f"to ALLOWED with the reason: {offenders}")


def test_allow_lists_have_no_stale_entries():
    found = op_literals()
    stale = sorted(k for k in ALLOWED if k not in found)
    assert not stale, f"remove from ALLOWED (no longer found): {stale}"
    done = sorted(k for k in PENDING_LINT if k not in found)
    assert not done, f"remove from PENDING_LINT (the lint rule no longer names the op): {done}"


def test_the_walk_finds_op_names(tmp_path, monkeypatch):
    """The check itself: an op name in a file under archc/ (outside archc/ops/) is found; the same
    string in archc/ops/ or as part of a longer string is not."""
    mod = sys.modules[__name__]

    pkg = tmp_path / "archc"
    (pkg / "ops").mkdir(parents=True)
    (pkg / "x.py").write_text('if node.op == "conv2d":\n    pass\nname = "conv2d_like"\n')
    (pkg / "ops" / "conv.py").write_text('register("conv2d")\n')
    monkeypatch.setattr(mod, "ROOT", tmp_path)
    monkeypatch.setattr(mod, "PKG", pkg)
    assert mod.op_literals() == Counter({("archc/x.py", "conv2d"): 1})
