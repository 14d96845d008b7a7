"""`archc lint --fix` and `--diff`: the safe fixes, made in place of the edited node only."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from archc.lint import RULES, load_rules
from archc.lint_driver.splice import SpliceError, Target, apply
from tests.conftest import ROOT

runner = CliRunner()

HEAD = """\
# yaml-language-server: $schema=../schemas/archc.schema.json
archc: 1
name: fixme   # the name
symbols:
  B: {example: 2, min: 1}
inputs:
  image: {shape: [B, 3, 32, 32], dtype: float32}
"""

MODEL = HEAD + """\
layers:
  - conv:    {op: conv2d, out: 16, kernel: 3, padding: 1}      # bias by default
  - bn:      {op: batch_norm}
  - conv2:   {op: conv2d, out: 16, kernel: 3, padding: 1, bias: true}
  - bn2:     {op: batch_norm}
  - deep:
      op: conv2d       # a block-style body
      out: 16
      kernel: 3
      padding: 1
  - bn3:     {op: batch_norm}
  - act:     {op: relu}
  - act2:    {op: relu}                                         # ARC306: no safe fix
outputs:
  features: {from: act2, kind: features}
"""


def lint(*args):
    return runner.invoke(app, ["lint", *args, "--isolated"])


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def codes(path: Path) -> list[str]:
    r = lint(str(path), "--format", "json")
    return [d["code"] for f in json.loads(r.stdout)["files"] for d in f["diagnostics"]]


def test_fix_sets_bias_false_keeping_everything_else(tmp_path):
    p = write(tmp_path, "m.yaml", MODEL)
    assert codes(p).count("ARC304") == 3
    r = lint(str(p), "--fix")
    assert r.exit_code == 0, r.output
    assert r.stdout.rstrip().endswith("fixed 3 findings in 1 file")
    new = p.read_text()
    expected = (MODEL
                .replace("padding: 1}      # bias by default", "padding: 1, bias: false}      # bias by default")
                .replace("padding: 1, bias: true}", "padding: 1, bias: false}")
                .replace("      padding: 1\n  - bn3:", "      padding: 1\n      bias: false\n  - bn3:"))
    assert new == expected      # the flow bodies stay on their lines, padding and comments kept;
    #                             the block-style body gets a line indented like its keys
    # re-linting reports the fixed findings gone, and the others still there
    assert codes(p) == ["ARC306"]
    # and --fix again is a no-op
    r = lint(str(p), "--fix")
    assert r.exit_code == 0 and r.stdout.rstrip().endswith("fixed 0 findings in 0 files")
    assert p.read_text() == new


def test_diff_prints_a_unified_diff_and_writes_nothing(tmp_path):
    p = write(tmp_path, "m.yaml", MODEL)
    r = lint(str(p), "--diff", "--fail-on", "warning")
    assert p.read_text() == MODEL
    assert r.stdout.startswith("--- a/") and "\n+++ b/" in r.stdout
    assert "+  - conv2:   {op: conv2d, out: 16, kernel: 3, padding: 1, bias: false}\n" in r.stdout
    assert "-  - conv2:   {op: conv2d, out: 16, kernel: 3, padding: 1, bias: true}\n" in r.stdout
    assert "would fix 3 findings in 1 file" in r.stderr
    assert r.exit_code == 1          # ARC306 remains, and --fail-on warning counts it


def test_exit_code_is_lints_with_the_remaining_findings(tmp_path):
    p = write(tmp_path, "m.yaml", MODEL.replace("  - act2:    {op: relu}                                         # ARC306: no safe fix\n", "")
              .replace("from: act2", "from: act"))
    assert lint(str(p), "--fail-on", "warning").exit_code == 1
    r = lint(str(p), "--fix", "--fail-on", "warning")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("0 errors, 0 warnings")


def test_fix_with_json_keeps_stdout_json(tmp_path):
    p = write(tmp_path, "m.yaml", MODEL)
    r = lint(str(p), "--fix", "--format", "json")
    doc = json.loads(r.stdout)
    assert [d["code"] for d in doc["files"][0]["diagnostics"]] == ["ARC306"]
    assert "fixed 3 findings in 1 file" in r.stderr


def test_fix_never_edits_an_imported_library(tmp_path):
    lib = write(tmp_path, "lib/blk.yaml", "archc: 1\nname: blk\nblocks:\n  cb:\n    layers:\n"
                "      - c: {op: conv2d, out: 16, kernel: 3, padding: 1}\n      - n: {op: batch_norm}\n")
    lib_text = lib.read_text()
    p = write(tmp_path, "m.yaml", HEAD + "imports: [blk]\nlayers:\n  - body: {block: cb}\n")
    r = lint(str(tmp_path), "--fix")
    assert r.exit_code == 0, r.output
    assert lib.read_text() == lib_text
    assert "fixed 0 findings in 0 files" in r.stdout
    assert codes(p) == ["ARC304"]      # still reported, at the library's line


def test_no_fix_when_a_variant_needs_the_bias(tmp_path):
    text = HEAD.replace("symbols:", "params: {norm: true}\nvariants:\n  plain: {norm: false}\nsymbols:") + """\
layers:
  - conv: {op: conv2d, out: 16, kernel: 3, padding: 1}
  - bn:   {op: batch_norm, when: "${norm}"}
"""
    p = write(tmp_path, "m.yaml", text)
    assert codes(p) == ["ARC304"]
    r = lint(str(p), "--fix")
    assert "fixed 0 findings in 0 files" in r.stdout
    assert p.read_text() == text
    # without the variant that drops the batch norm, the same fix is made
    p.write_text(text.replace("variants:\n  plain: {norm: false}\n", ""))
    assert "fixed 1 finding in 1 file" in lint(str(p), "--fix").stdout
    assert codes(p) == []


def test_no_fix_when_another_use_of_the_block_keeps_its_bias_useful(tmp_path):
    text = HEAD + """\
blocks:
  cb:
    params: {norm: true}
    layers:
      - c: {op: conv2d, out: 16, kernel: 3, padding: 1}
      - n: {op: batch_norm, when: "${norm}"}
layers:
  - one: {block: cb}
  - two: {block: cb, args: {norm: false}}
"""
    p = write(tmp_path, "m.yaml", text)
    assert codes(p) == ["ARC304"]
    assert "fixed 0 findings in 0 files" in lint(str(p), "--fix").stdout
    assert p.read_text() == text


def test_an_expression_is_never_overwritten(tmp_path):
    text = HEAD.replace("symbols:", "params: {b: true}\nsymbols:") + """\
layers:
  - conv: {op: conv2d, out: 16, kernel: 3, padding: 1, bias: "${b}"}
  - bn:   {op: batch_norm}
"""
    p = write(tmp_path, "m.yaml", text)
    r = lint(str(p), "--fix")
    assert p.read_text() == text
    assert "is an expression" in r.stderr and "fixed 0 findings" in r.stdout


def test_fix_keeps_the_file_mode(tmp_path):
    p = write(tmp_path, "m.yaml", MODEL)
    os.chmod(p, 0o640)
    lint(str(p), "--fix")
    assert (os.stat(p).st_mode & 0o777) == 0o640
    assert not [x for x in os.listdir(tmp_path) if x.startswith(".archc-fix-")]


def test_rules_with_a_safe_fix():
    """Which rules offer a fix is a decision per rule (the reasons are in archc/lint/rules/): only
    ARC304's `bias: false` keeps every output of every variant the same."""
    load_rules()
    assert sorted(c for c, r in RULES.items() if r.fix) == ["ARC304"]


# --------------------------------------------------------------------------- the splice itself
def _corpus() -> list[Path]:
    return sorted(p for d in ("specs", "tests") for p in (ROOT / d).rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def _bodies(root):
    """(target, mapping node) of node-body-like mappings: mapping values of keys, flow mappings in lists."""
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    out, stack = [], [root]
    while stack:
        n = stack.pop()
        if isinstance(n, MappingNode):
            for k, v in n.value:
                if isinstance(v, MappingNode) and isinstance(k, ScalarNode):
                    out.append((Target(k.start_mark.line + 1, k.start_mark.column + 1), v))
                stack.append(v)
        elif isinstance(n, SequenceNode):
            for v in n.value:
                if isinstance(v, MappingNode) and v.flow_style:
                    out.append((Target(v.start_mark.line + 1, v.start_mark.column + 1), v))
                stack.append(v)
    return out


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_synthetic_fix_changes_only_its_node(path):
    """On every spec of specs/ and tests/: adding a key to (and removing one from, and replacing a
    value in) node bodies changes the text inside that node only, and reads back as intended."""
    from yaml.nodes import ScalarNode

    from archc.lint_driver.splice import _compose, _Offsets

    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        root = _compose(text)
    except SpliceError:
        pytest.skip("not YAML that ruamel reads (a bad-spec case)")
    offset = _Offsets(text)
    bodies = _bodies(root)
    if len(bodies) > 2:   # the first and the last (the walk goes from the end of the file)
        bodies = [bodies[0], bodies[-1]]
    made = 0
    for target, node in bodies:
        edits = [("zz_fix_probe", False, False)]
        if len(node.value) > 1:
            edits.append((node.value[-1][0].value, None, True))
        plain = [k.value for k, v in node.value if isinstance(v, ScalarNode) and "${" not in v.value]
        if plain:
            edits.append((plain[0], 12345, False))
        for key, value, remove in edits:
            try:
                new, changed = apply(text, target, key, value, remove)
            except SpliceError as e:
                assert "expression" in str(e) or "bad" in path.parts, e
                continue
            start, end = offset(node.start_mark), offset(node.end_mark)
            assert new[:start] == text[:start]
            assert new[len(new) - (len(text) - end):] == text[end:]
            assert changed
            made += 1
    assert made or not bodies or "bad" in path.parts


def test_lint_without_fix_never_imports_ruamel():
    code = ("import sys\nfrom archc.cli.main import main\nsys.argv = ['archc', 'lint', 'specs', '--isolated']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('ruamel' in ' '.join(sys.modules), file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert p.stderr.strip().splitlines()[-1] == "False", p.stderr


def test_a_comment_stays_on_its_line_in_a_block_body():
    text = ("archc: 1\nlayers:\n  - deep:\n      op: conv2d   # c1\n      out: 16      # last\n"
            "  # between\n  - bn: {op: batch_norm}\n")
    new, changed = apply(text, Target(3, 5), "bias", False)
    assert changed and new == text.replace("      out: 16      # last\n", "      out: 16      # last\n      bias: false\n")
    assert apply(new, Target(3, 5), "bias", False) == (new, False)     # already so: no change
    with pytest.raises(SpliceError, match="no node body"):
        apply(text, Target(4, 1), "bias", False)


def test_fix_never_edits_the_base_of_an_extends_spec(tmp_path):
    base = write(tmp_path, "base.yaml", HEAD.replace("name: fixme", "name: base") + """\
params: {width: 16}
layers:
  - conv: {op: conv2d, out: "${width}", kernel: 3, padding: 1}
  - bn:   {op: batch_norm}
""")
    base_text = base.read_text()
    thin = write(tmp_path, "thin.yaml", "archc: 1\nname: thin\nextends: base\nparams: {width: 32}\n")
    thin_text = thin.read_text()
    assert codes(thin) == ["ARC304"]
    r = lint(str(thin), "--fix")
    assert "fixed 0 findings in 0 files" in r.stdout, r.output
    assert base.read_text() == base_text and thin.read_text() == thin_text
    assert "fixed 1 finding in 1 file" in lint(str(base), "--fix").stdout   # linted itself, it is fixed
