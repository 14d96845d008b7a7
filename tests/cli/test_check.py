"""`archc check` through the CLI: exit codes, JSON document, tables, errors."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from archc.cli.main import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def test_check_json_document():
    r = invoke("check", "specs/mlp.yaml", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["params"] == 269322 and doc["verified"] is True
    assert [n["id"] for n in doc["nodes"]][:2] == ["hidden.0.fc", "hidden.0.act"]
    assert doc["nodes"][0] == {
        "id": "hidden.0.fc", "op": "linear", "block": "dense", "inputs": ["x"], "shape": "[B, 256]",
        "example_shape": [4, 256], "dtype": "float32", "params": 200960, "line": 14, "file": "specs/mlp.yaml",
    }
    assert doc["outputs"]["logits"] == {"from": "head", "shape": "[B, 10]", "dtype": "float32", "kind": "logits"}


def test_check_table():
    r = invoke("check", "specs/unet.yaml")
    assert r.exit_code == 0, r.output
    assert "requires: H % 16 == 0; W % 16 == 0" in r.stdout
    assert "31,030,658 parameters" in r.stdout


def test_check_several_specs_json():
    r = invoke("check", "specs/mlp.yaml", "specs/resnet18.yaml", "--json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert [s["name"] for s in doc["specs"]] == ["mlp", "resnet18"]


def test_set_and_variant():
    r = invoke("check", "specs/resnet.yaml", "--variant", "resnet18", "--set", "num_classes=10", "--set", "H=128", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["variant"] == "resnet18" and doc["nodes"][-1]["example_shape"] == [2, 10]
    assert doc["symbols"]["H"]["example"] == 128


def test_exit_1_on_spec_error_with_location():
    r = invoke("check", "specs/unet.yaml", "--set", "H=100")
    assert r.exit_code == 1
    assert "error[ARC203]: H = 100 does not satisfy `H % 16 == 0`" in r.stderr
    assert "--> <command line>:1:9" in r.stderr
    assert "specs/lib/unet.yaml:26:9" in r.stderr
    assert "Traceback" not in r.output


def test_exit_2_on_usage():
    assert invoke("check", "specs/nope.yaml").exit_code == 2
    assert invoke("check", "specs/mlp.yaml", "--set", "novalue").exit_code == 2
    assert invoke("check").exit_code == 2


def test_unknown_set_key_is_a_diagnostic():
    r = invoke("check", "specs/mlp.yaml", "--set", "hiden=3")
    assert r.exit_code == 1
    assert "ARC114" in r.stderr and "did you mean `hidden`?" in r.stderr


def test_unknown_variant():
    r = invoke("check", "specs/resnet.yaml", "--variant", "resnet19")
    assert r.exit_code == 1
    assert "ARC110" in r.stderr and "did you mean `resnet18`?" in r.stderr


def test_schema_command_prints_checked_in_schema():
    r = invoke("schema")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["title"].startswith("archc")


def test_internal_error_is_one_line(monkeypatch):
    import archc.cli.check as chk

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(chk, "check_one", boom)
    r = invoke("check", "specs/mlp.yaml")
    assert r.exit_code == 4
    assert "internal error: RuntimeError: boom" in r.stderr and "Traceback" not in r.output


def test_schema_and_reference_problems_in_one_run(tmp_path):
    """A node with a schema problem is skipped; the others are still elaborated and checked."""
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "archc: 1\nname: s\nsymbols: {B: {example: 2}}\ninputs:\n  x: {shape: [B, 8]}\nlayers:\n"
        "  - a: {op: linear, out: 4, bais: true}\n"
        "  - b: {op: relu, from: nowhere}\n"
        "  - c: {op: linear, from: x, out: 0}\n"
    )
    r = invoke("check", str(spec))
    assert r.exit_code == 1
    codes = [line.split("]")[0].split("[")[1] for line in r.stderr.splitlines() if line.startswith("error[")]
    assert codes == ["ARC101", "ARC104", "ARC102"], r.stderr
