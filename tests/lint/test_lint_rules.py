"""Every registered rule: documented, in the code table, and covered by a bad and a good fixture."""
from __future__ import annotations

import re

import pytest
import yaml

from archc.diagnostics import CODES, Diagnostic, Span, code_info
from archc.ir.graph import Graph, GraphInput, GraphOutput, Node, ValueRef
from archc.ir.types import TensorType
from archc.lint import RULES, load_rules
from archc.lint_driver import LintConfig, LintOptions
from archc.lint._context import LintContext
from archc.lint_driver.engine import Linter
from archc.ops import OPS, load_ops
from tests.lint._util import FIXTURES, codes, fixture

load_rules()
load_ops()
ALL = sorted(RULES)


def lint(path, **kw):
    opts = LintOptions(config=LintConfig(), **kw)
    return Linter(opts).lint_file(path)[0]


def _ops_in(path) -> set[str]:
    ops: set[str] = set()
    stack = [yaml.safe_load(path.read_text())]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if isinstance(v.get("op"), str):
                ops.add(v["op"])
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return ops


def _need_ops(path) -> None:
    missing = sorted(_ops_in(path) - set(OPS))
    if missing:
        pytest.skip(f"fixture needs ops that are not registered in this build: {', '.join(missing)}")


@pytest.mark.parametrize("code", ALL)
def test_rule_is_documented(code):
    r = RULES[code]
    assert re.fullmatch(r"ARC[345]\d\d", code)
    assert r.category == {"3": "design", "4": "performance", "5": "export"}[code[3]]
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", r.name)
    assert r.severity in ("error", "warning", "info")
    assert r.summary and r.why and r.bad and r.good and r.bad != r.good
    yaml.safe_load(r.bad), yaml.safe_load(r.good)  # the examples are YAML
    assert code not in CODES, "a rule's name and summary live in its registration, not in archc.diagnostics.CODES"
    assert code_info(code) == (r.name, r.summary)


@pytest.mark.parametrize("code", ALL)
def test_bad_fixture_triggers_the_rule(code):
    path = fixture(code, "bad")
    assert path.is_file(), f"add {path.relative_to(FIXTURES.parent)}"
    _need_ops(path)
    found = codes(lint(path))
    accepted = (code,) + RULES[code].also_reported_as
    assert any(c in accepted for c in found), found


@pytest.mark.parametrize("code", ALL)
def test_good_fixture_is_clean(code):
    path = fixture(code, "good")
    assert path.is_file(), f"add {path.relative_to(FIXTURES.parent)}"
    _need_ops(path)
    assert codes(lint(path)) == []


@pytest.mark.parametrize("code", ALL)
def test_bad_fixture_is_quiet_when_the_rule_is_ignored(code):
    path = fixture(code, "bad")
    _need_ops(path)
    assert code not in codes(lint(path, ignore=(code,)))


def test_every_fixture_folder_is_a_rule():
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == ALL


def test_heads_rule_fires_on_an_op_whose_shape_rule_is_lenient():
    """ARC308 covers any op with `heads` (a plugin's); the built-in attention reports ARC204 first."""

    class Attrs:
        heads = 3

    g = Graph("g", {"x": GraphInput("x", TensorType((2, 5, 64)))},
              [Node("attn", "plugin_attention", Attrs(), [ValueRef("x", 0, True)], [TensorType((2, 5, 64))],
                    Span("m.yaml", 3, 5))],
              {"y": GraphOutput("y", ValueRef("attn"))}, {}, {})
    found = list(RULES["ARC308"].check(LintContext("m.yaml", None, g)))
    assert len(found) == 1 and "not divisible by heads=3" in found[0].message


def test_onnx_rule_follows_the_opset():
    path = fixture("ARC501", "bad")
    assert "ARC501" in codes(lint(path, opset=18))
    assert "ARC501" not in codes(lint(path, opset=19))


def test_repeated_block_gives_one_finding(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text(fixture("ARC306", "bad").read_text().replace(
        "layers:\n  - fc:   {op: linear, out: 64}\n  - act:  {op: relu}\n  - act2: {op: relu}\n",
        "blocks:\n  b:\n    layers:\n      - fc:   {op: linear, out: 64}\n      - act:  {op: relu}\n"
        "      - act2: {op: relu}\nlayers:\n  - body: {block: b, repeat: 3}\n"))
    ds = [d for d in lint(p).diagnostics if d.code == "ARC306"]
    assert len(ds) == 1 and "2 more instances" in ds[0].message


def test_diagnostics_carry_rule_severity():
    d = lint(fixture("ARC307", "bad")).diagnostics[0]
    assert isinstance(d, Diagnostic) and d.severity == RULES["ARC307"].severity == "error"


def test_lint_codes_come_from_the_rule_registry():
    """archc.diagnostics does not list the rules; a lint code's name reaches a diagnostic's JSON from
    the registry, which loads the rules when first asked (a fresh process, no rule loaded yet)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import archc.lint._registry as reg\nfrom archc.diagnostics import Diagnostic, code_info\n"
            "assert not reg.RULES\n"
            "print(Diagnostic('ARC304', 'm').to_json()['name'], code_info('ARC501')[0], code_info('ARC101')[0],"
            " code_info('ARC399'))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["bias-before-batch-norm", "onnx-unsupported", "unknown-key", "None"]


def test_readme_rule_table_matches_the_registry():
    from tests.conftest import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (ARC[345]\d\d) \| ([a-z0-9-]+) \| (\w+) \|", text, re.M)
    assert rows == [(r.code, r.name, r.severity) for r in RULES.values()]
