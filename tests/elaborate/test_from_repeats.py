"""`from:` collecting every repetition of a repeat (issue 14, item 5): `stages.*` in the order of
repetition, `stages.*.proj` inside repeated blocks, every item of a `seq`, a `${...}` expression
giving a list of names; located diagnostics where a glob matches nothing."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import archc
from archc.diagnostics import DiagnosticError
from archc.pipeline import Options, run

HEAD = """\
archc: 1
name: t
symbols: {B: {example: 2}}
inputs: {x: {shape: [B, 8]}}
blocks:
  unit:
    layers:
      - fc: {op: linear, out: 8}
      - proj: {op: linear, out: 4}
"""


def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(HEAD + textwrap.dedent(body))
    return p


def _inputs(tmp_path: Path, body: str, node: str) -> list[str]:
    g = archc.infer(_write(tmp_path, body))
    return [str(r) for r in g.node(node).inputs]


def _errors(tmp_path: Path, body: str) -> list:
    p = _write(tmp_path, body)
    with pytest.raises(DiagnosticError) as ei:
        run(p, Options(), until="check")
    return [d for d in ei.value.diagnostics if d.severity == "error"]


def _line(tmp_path: Path, fragment: str) -> int:
    text = (tmp_path / "spec.yaml").read_text()
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_every_repetition_in_order(tmp_path):
    body = """\
        layers:
          - stages: {op: linear, out: 8, repeat: 3, repeat_names: "s${2 - i}"}
          - cat: {op: concat, from: "stages.*", dim: -1}
          - both: {op: concat, from: [x, "stages.*", x], dim: -1}
        outputs: {y: cat, z: both}
        """
    assert _inputs(tmp_path, body, "cat") == ["stages.s2", "stages.s1", "stages.s0"]  # repetition order, not name order
    assert _inputs(tmp_path, body, "both") == ["x", "stages.s2", "stages.s1", "stages.s0", "x"]
    gm = archc.compile(tmp_path / "spec.yaml")
    import torch

    x = torch.randn(2, 8)
    y, z = gm(x)
    with torch.no_grad():
        s2 = gm.stages.s2(x)
        s1 = gm.stages.s1(s2)
        s0 = gm.stages.s0(s1)
    assert torch.allclose(y, torch.cat([s2, s1, s0], -1)) and tuple(z.shape) == (2, 40)


def test_a_node_inside_every_repeated_block_and_every_seq_item(tmp_path):
    body = """\
        layers:
          - units: {block: unit, repeat: 2}
          - projs: {op: concat, from: "units.*.proj", dim: -1}
          - outs: {op: add, from: "units.*"}
          - f: {seq: [{op: linear, out: 4}, {op: linear, out: 4, repeat: 2}, {op: relu, when: false}]}
          - fs: {op: add, from: "f.*"}
        outputs: {y: projs, z: outs, w: fs}
        """
    g = archc.infer(_write(tmp_path, body))
    assert [str(r) for r in g.node("projs").inputs] == ["units.0.proj", "units.1.proj"]
    assert [str(r) for r in g.node("outs").inputs] == ["units.0.proj", "units.1.proj"]  # a block's output
    assert [str(r) for r in g.node("fs").inputs] == ["f.0", "f.1", "f.2"]


def test_a_glob_inside_a_block_over_its_own_repeat(tmp_path):
    p = tmp_path / "spec.yaml"
    p.write_text(HEAD + textwrap.dedent("""\
          pyramid:
            params: {n: int}
            layers:
              - levels: {op: linear, out: 8, repeat: "${n}"}
              - sum: {op: add, from: "levels.*"}
        layers:
          - p: {block: pyramid, args: {n: 3}}
        outputs: {y: p}
        """))
    g = archc.infer(p)
    assert [str(r) for r in g.node("p.sum").inputs] == ["p.levels.0", "p.levels.1", "p.levels.2"]


def test_an_expression_gives_the_names(tmp_path):
    body = """\
        layers:
          - a: {op: relu}
          - b: {op: gelu, from: x}
          - stages: {op: linear, out: 8, repeat: 2}
          - cat: {op: concat, from: "${taps}", dim: -1}
          - one: {op: relu, from: "${taps[0]}"}
        outputs: {y: cat, z: one}
        """
    head_params = "params: {taps: [b, a, \"stages.*\"]}\n"
    p = tmp_path / "spec.yaml"
    p.write_text(HEAD.replace("symbols:", head_params + "symbols:") + textwrap.dedent(body))
    g = archc.infer(p)
    assert [str(r) for r in g.node("cat").inputs] == ["b", "a", "stages.0", "stages.1"]
    assert [str(r) for r in g.node("one").inputs] == ["b"]
    g = archc.infer(p, overrides={"taps": ["a", "stages.*"]})
    assert [str(r) for r in g.node("cat").inputs] == ["a", "stages.0", "stages.1"]


@pytest.mark.parametrize("body, where, words", [
    ("""\
        layers:
          - fc: {op: linear, out: 8}
          - cat: {op: concat, from: "fc.*"}
        """, "cat:", "`cat` takes input from `fc.*`, but `fc` is not a repeat, so `*` matches nothing"),
    ("""\
        layers:
          - stages: {op: linear, out: 8, repeat: 0}
          - cat: {op: concat, from: "stages.*"}
        """, "cat:", "`stages` repeats 0 times, so `*` matches nothing"),
    ("""\
        layers:
          - stages: {op: linear, out: 8, repeat: 2}
          - cat: {op: concat, from: "stagse.*"}
        """, "cat:", "`cat` takes input from `stagse`, which is not defined"),
    ("""\
        layers:
          - units: {block: unit, repeat: 2}
          - cat: {op: concat, from: "units.*.prj"}
        """, "cat:", "`cat` takes input from `units.0.prj`, which is not defined"),
    ("""\
        layers:
          - stages: {op: linear, out: 8, repeat: 2}
          - cat: {op: concat, from: "stag*"}
        """, "cat:", "`*` stands for a whole name after a repeat's name"),
    ("""\
        layers:
          - cat: {op: concat, from: "${[1, 2]}"}
        """, "cat:", "the expression in `from:` gives [1, 2], not a number or a node"),
    ("""\
        layers:
          - cat: {op: concat, from: "${'a b'}"}
        """, "cat:", "gives 'a b', which is not a node or input name"),
])
def test_a_glob_that_matches_nothing_is_located(tmp_path, body, where, words):
    errors = _errors(tmp_path, body)
    assert any(words in d.message for d in errors), [d.message for d in errors]
    d = next(d for d in errors if words in d.message)
    assert d.code in ("ARC104", "ARC102") and d.span is not None and d.span.line == _line(tmp_path, where)
    assert d.span.col > 1   # at the `from:` value


def test_a_glob_over_a_later_repeat_is_a_forward_reference(tmp_path):
    (d,) = _errors(tmp_path, """\
        layers:
          - cat: {op: concat, from: "stages.*"}
          - stages: {op: linear, out: 8, repeat: 2, from: x}
        """)
    assert d.code == "ARC104" and "`cat` takes input from `stages`, which is defined later" in d.message


def test_a_bad_from_name_says_what_a_from_takes(tmp_path):
    (d,) = _errors(tmp_path, "layers:\n  - cat: {op: concat, from: \"a b\"}\n")
    assert d.code == "ARC102" and "`stages.*`: every repetition of `stages`" in d.message


def test_repeated_params_are_collected(tmp_path):
    body = """\
        layers:
          - queries: {op: param, shape: [8], init: normal, repeat: 3}
          - sum: {op: add, from: "queries.*"}
          - out: {op: add, from: [x, sum]}
        outputs: {y: out}
        """
    assert _inputs(tmp_path, body, "sum") == ["queries.0", "queries.1", "queries.2"]
    gm = archc.compile(tmp_path / "spec.yaml")
    assert sorted(k for k in gm.state_dict()) == ["queries.0", "queries.1", "queries.2"]
    import torch

    x = torch.randn(2, 8)
    sd = gm.state_dict()
    assert torch.allclose(gm(x), x + sd["queries.0"] + sd["queries.1"] + sd["queries.2"])
