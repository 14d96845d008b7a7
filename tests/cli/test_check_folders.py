"""`archc check FOLDER` walks it as `archc lint` does: one line a spec, a summary, the worst exit
code; libraries of blocks are skipped, specs in flow style are found."""
from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from archc.cli.main import app
from archc.lint_driver import LintConfig, LintOptions, lint_paths
from tests.conftest import ROOT

runner = CliRunner()

FLOW = "{archc: 1, name: flow, symbols: {B: {example: 2}}, inputs: {x: {shape: [B, 4]}}, layers: [{fc: {op: linear, out: 3}}]}\n"
BAD = "archc: 1\nname: bad\ninputs: {x: {shape: [2, 4]}}\nlayers:\n  - fc: {op: linearr, out: 3}\n"


def _folder(tmp_path, bad=True):
    d = tmp_path / "zoo"
    (d / "lib").mkdir(parents=True)
    (d / "sub").mkdir()
    shutil.copy(ROOT / "specs/mlp.yaml", d / "mlp.yaml")
    shutil.copy(ROOT / "specs/lib/bert.yaml", d / "lib/bert.yaml")
    (d / "sub/flow.yaml").write_text(FLOW)
    (d / "ci.yaml").write_text("on: push\njobs: {}\n")          # not a spec: skipped as lint skips it
    if bad:
        (d / "bad.yaml").write_text(BAD)
    return d


def test_check_walks_a_folder(tmp_path):
    d = _folder(tmp_path)
    r = runner.invoke(app, ["check", str(d)], env={"COLUMNS": "500"})  # long tmp paths: no wrapping
    assert r.exit_code == 1, r.output
    lines = r.stdout.splitlines()
    assert lines == [f"{d}/bad.yaml: failed, 1 error",
                     f"{d}/mlp.yaml: mlp, 7 nodes, 269,322 parameters (269.32K); shapes verified",
                     f"{d}/sub/flow.yaml: flow, 1 node, 15 parameters (15); shapes verified",
                     "3 specs checked: 2 ok, 1 failed; 1 library of blocks skipped"]
    assert "error[ARC113]: unknown op `linearr`" in r.stderr


def test_check_folder_json_and_exit_zero(tmp_path):
    d = _folder(tmp_path, bad=False)
    r = runner.invoke(app, ["check", str(d), "--json"], env={"COLUMNS": "500"})  # long tmp paths: no wrapping
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [s["name"] for s in doc["specs"]] == ["mlp", "flow"]
    assert doc["summary"]["ok"] == 2 and doc["summary"]["libraries_skipped"] == [f"{d}/lib/bert.yaml"]


def test_check_files_and_a_folder_together(tmp_path):
    d = _folder(tmp_path, bad=False)
    r = runner.invoke(app, ["check", "specs/mlp.yaml", str(d / "sub")], env={"COLUMNS": "500"})  # long tmp paths: no wrapping
    assert r.exit_code == 0, r.output
    assert "hidden.0.fc" in r.stdout                       # the file given: its table, as before
    assert r.stdout.rstrip().endswith("2 specs checked: 2 ok, 0 failed")   # with a folder: a summary of all
    assert f"{d}/sub/flow.yaml: flow, 1 node" in r.stdout


def test_lint_walks_flow_style_specs(tmp_path):
    d = _folder(tmp_path, bad=False)
    (d / "sub/json.yaml").write_text('{"name": "j", "archc": 1, "inputs": {"x": {"shape": [2, 4]}}, "layers": [{"fc": {"op": "linear", "out": 3}}]}\n')
    (d / "sub/nested.yaml").write_text("{other: {archc: 1}}\n")   # `archc` nested, not the document's key
    run = lint_paths([str(d)], LintOptions(config=LintConfig()))
    found = sorted(r.file.rsplit("/", 1)[-1] for r in run.results)
    assert found == ["bert.yaml", "flow.yaml", "json.yaml", "mlp.yaml"]
    assert sorted(s.rsplit("/", 1)[-1] for s in run.skipped) == ["ci.yaml", "nested.yaml"]
