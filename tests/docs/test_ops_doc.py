"""docs/ops.md and `archc ops` come from the op registry; the checked-in page is never stale.

Regenerate the page with `archc ops --markdown > docs/ops.md`.
"""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Literal, Optional, Union

from typer.testing import CliRunner

from archc.cli.main import app
from archc.ops import load_ops
from archc.report.ops import DOC_COMMAND, example_outputs, is_plugin, ops_markdown, type_str
from tests.conftest import ROOT

DOC = ROOT / "docs" / "ops.md"
runner = CliRunner()


def test_docs_ops_md_is_up_to_date():
    assert DOC.exists(), f"docs/ops.md is missing: run `{DOC_COMMAND}`"
    assert DOC.read_text(encoding="utf-8") == ops_markdown(), f"docs/ops.md is stale: run `{DOC_COMMAND}` and commit it"


def test_every_builtin_op_is_documented():
    text = ops_markdown()
    for name, op in load_ops().items():
        if is_plugin(op):
            continue
        assert f"### `{name}`\n\n{op.doc}\n" in text
        assert f"- **Shape:** {op.shape_doc}" in text and f"- **Lowers to:** `{op.lowers_to}`" in text
        assert f"- {name}: {op.example}" in text


def test_every_example_runs_its_shape_rule():
    for name, op in load_ops().items():
        outs = example_outputs(op)
        assert outs and all(all(isinstance(d, int) and d > 0 for d in s) for s in outs), name


def test_conv2d_section():
    text = ops_markdown()
    sec = text[text.index("### `conv2d`"):text.index("### `conv3d`")]
    assert "| `out` | `int` (> 0) | *required* | output channels |" in sec
    assert "| `padding` | `int \\| list[int] \\| \"same\" \\| \"valid\"` | `0` |  |" in sec
    assert "| `bias` | `bool` | `true` |  |" in sec
    assert "with input [2, 8, 10, 10] gives [2, 16, 10, 10]." in sec


def test_type_str():
    assert type_str(int) == "int"
    assert type_str(Union[int, list[int]]) == "int | list[int]"
    assert type_str(Optional[float]) == "float | null"
    assert type_str(Literal["same", "valid"]) == '"same" | "valid"'
    assert type_str(dict[str, str]) == "dict[str, str]"


def test_cli_ops_list():
    r = runner.invoke(app, ["ops"])
    assert r.exit_code == 0, r.output
    fams = {op.family for op in load_ops().values()}
    for f in fams:
        assert f"\n{f}" in "\n" + r.stdout
    assert "conv2d" in r.stdout and "batch_norm" in r.stdout


def test_cli_ops_detail():
    r = runner.invoke(app, ["ops", "conv2d"])
    assert r.exit_code == 0, r.output
    for text in ("conv2d  (conv)", "padding_mode", '"zeros" | "reflect" | "replicate" | "circular"', "int | list[int]",
                 "lowers to: torch.nn.Conv2d", "example: - conv2d: {op: conv2d", "gives [2, 16, 10, 10]", "required"):
        assert text in r.stdout, text


def test_cli_ops_family_json_markdown():
    r = runner.invoke(app, ["ops", "norm"])
    assert r.exit_code == 0 and "layer_norm" in r.stdout and "conv2d" not in r.stdout
    r = runner.invoke(app, ["ops", "linear", "--json"])
    doc = json.loads(r.stdout)
    assert doc["op"]["name"] == "linear" and doc["op"]["attributes"][0]["name"] == "out"
    r = runner.invoke(app, ["ops", "--json"])
    assert "conv" in json.loads(r.stdout)["families"]
    r = runner.invoke(app, ["ops", "--markdown"])
    assert r.exit_code == 0 and r.stdout == ops_markdown()


def test_cli_ops_unknown():
    r = runner.invoke(app, ["ops", "conv2"])
    assert r.exit_code == 2 and "no op or family named 'conv2'" in r.stderr and "conv2d" in r.stderr
    r = runner.invoke(app, ["ops", "conv2d", "--markdown"])
    assert r.exit_code == 2


def test_ops_reference_is_torch_free():
    code = ("import sys\nfrom archc.report.ops import ops_markdown, ops_document\nfrom archc.ops import load_ops\n"
            "ops_markdown(); ops_document(load_ops())\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
