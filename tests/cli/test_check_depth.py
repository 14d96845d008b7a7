"""`archc check --depth N` folds the nodes below depth N into their blocks (params summed), and
the table shows each shape at the example sizes beside its symbolic form."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from archc.report.summary import check_rows

pytest.importorskip("torch")
runner = CliRunner()


def check(*args, width=120):
    r = runner.invoke(app, ["check", *args], env={"COLUMNS": str(width), "NO_COLOR": "1"})
    assert r.exit_code == 0, r.output
    return r.stdout


def table_rows(out: str) -> list[list[str]]:
    """Rows of the table whose first cell is filled (a wrapped cell continues on blank-named lines)."""
    rows = []
    for ln in out.splitlines():
        if "│" in ln and ln.split("│")[0].strip():
            rows.append([c.strip() for c in ln.split("│")])
    return rows


@pytest.fixture(scope="module")
def resnet50_doc():
    r = runner.invoke(app, ["check", "specs/resnet50.yaml", "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_depth_folds_rows_with_summed_params(resnet50_doc):
    doc = resnet50_doc
    assert len(check_rows(doc)) == len(doc["nodes"]) == 175
    top = check_rows(doc, 0)
    assert [r["id"] for r in top] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                                      "avgpool", "flatten", "fc"]
    assert sum(r["params"] for r in top) == doc["params"] == 25_557_032
    layer1 = next(r for r in top if r["id"] == "layer1")
    assert layer1["params"] == sum(n["params"] for n in doc["nodes"] if n["id"].startswith("layer1."))
    assert layer1["op"] == "repeat" and layer1["example"] == "[2, 256, 56, 56]"
    one = check_rows(doc, 1)
    assert len(one) == 4 + 16 + 3 and sum(r["params"] for r in one) == doc["params"]
    assert next(r for r in one if r["id"] == "layer1.0")["op"] == "bottleneck"
    two = [r["id"] for r in check_rows(doc, 2)]
    assert "layer1.0.conv1" in two and "layer1.0.downsample" in two and "layer1.0.downsample.0" not in two
    # JSON keeps every node, and lists the blocks with their depth
    blocks = {b["scope"]: b for b in doc["blocks"]}
    assert blocks["layer1"]["depth"] == 1 and blocks["layer1.0"]["depth"] == 2 and blocks["layer1.0.downsample"]["depth"] == 3


def test_depth_table_and_example_shapes():
    out = check("specs/resnet50.yaml", "--depth", "0")
    rows = table_rows(out)
    assert [r[0] for r in rows] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                                    "avgpool", "flatten", "fc"]
    layer3 = next(r for r in rows if r[0] == "layer3")
    assert "7,098,368" in layer3
    assert "175 nodes in 11 rows (--depth 0), 25,557,032 parameters" in " ".join(out.split())
    conv1 = next(r for r in rows if r[0] == "conv1")
    assert "[2, 64, 112, 112]" in conv1
    assert "(H - 1)//2 + 1" in out
    assert "example sizes B=2, H=224, W=224" in out.splitlines()[0]


def test_without_depth_every_node_is_a_row():
    out = check("specs/resnet18.yaml", width=200)
    assert len(table_rows(out)) == 69


def test_depth_flag_is_validated():
    r = runner.invoke(app, ["check", "specs/mlp.yaml", "--depth", "-1"])
    assert r.exit_code == 2


def test_check_past_the_verify_node_limit_warns_and_verify_all_runs_it(monkeypatch):
    from typer.testing import CliRunner

    import archc.session as S
    from archc.cli.main import app

    monkeypatch.setattr(S, "VERIFY_MAX_NODES", 5)           # the mlp's 7 nodes are past it
    r = CliRunner().invoke(app, ["check", "specs/mlp.yaml"])
    assert r.exit_code == 0, r.output
    assert "warning[ARC607]" in r.stderr and "7 nodes, more than 5" in r.stderr
    assert "not verified by execution" in r.stdout and "hidden.0.fc" in r.stdout
    j = CliRunner().invoke(app, ["check", "specs/mlp.yaml", "--json"])
    import json

    doc = json.loads(j.stdout)
    assert doc["verified"] is False and doc["verified_at"] == [] and doc["diagnostics"][0]["code"] == "ARC607"
    v = CliRunner().invoke(app, ["check", "specs/mlp.yaml", "--verify-all"])
    assert v.exit_code == 0 and "ARC607" not in v.stderr and "shapes verified on the meta device" in v.stdout


def test_a_table_past_max_rows_is_folded_with_a_note(tmp_path):
    from typer.testing import CliRunner

    from archc.cli.check import MAX_ROWS
    from archc.cli.main import app

    spec = tmp_path / "nested.yaml"
    spec.write_text("archc: 1\nname: nested\nsymbols: {B: {example: 2, min: 1}}\ninputs: {x: {shape: [B, 8]}}\n"
                    "blocks:\n  inner:\n    params: {n: int}\n    layers:\n      - r: {op: relu, repeat: \"${n}\"}\n"
                    "layers:\n  - outer: {block: inner, repeat: 30, args: {n: 30}}\n")
    r = CliRunner().invoke(app, ["check", str(spec)])
    assert r.exit_code == 0, r.output
    assert 900 > MAX_ROWS and "900 nodes: the table is folded at --depth 2" in r.stderr
    assert "900 nodes in 30 rows (--depth 2)" in r.stdout and "outer.29.r.0" not in r.stdout
    full = CliRunner().invoke(app, ["check", str(spec), "--depth", "5"])
    assert "outer.29.r.29" in full.stdout and "folded" not in full.stderr
