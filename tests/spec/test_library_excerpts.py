"""A YAML error inside an imported `lib/` file (or an `extends:` base) shows the excerpt and caret
like every other diagnostic, in `check` and in `lint`."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

runner = CliRunner()
MAIN = """archc: 1
name: t
imports: [lib1]
symbols: {B: {example: 2}}
inputs: {x: {shape: [B, 8]}}
layers:
  - a: {block: d}
outputs: {y: {from: a}}
"""
LIBS = {
    "unclosed flow": ("      - fc: {op: linear, out: 4\n", "6 |       - fc: {op: linear, out: 4"),
    "duplicate key": ("      - fc: {op: linear, out: 4, out: 5}\n", "6 |       - fc: {op: linear, out: 4, out: 5}"),
    "python tag": ("      - fc: !!python/object:os.system {op: linear}\n", "6 |       - fc: !!python/object:os.system"),
    "tab": ("      - fc: {op: linear,\tout: 4}\n", "6 |       - fc: {op: linear,"),
}


@pytest.mark.parametrize("case", list(LIBS))
@pytest.mark.parametrize("cmd", ["check", "lint"])
def test_a_yaml_error_in_a_library_has_its_excerpt(tmp_path, monkeypatch, case, cmd):
    body, line = LIBS[case]
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "lib1.yaml").write_text("archc: 1\nname: l\nblocks:\n  d:\n    layers:\n" + body)
    (tmp_path / "m.yaml").write_text(MAIN)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, [cmd, "m.yaml"] + (["--isolated"] if cmd == "lint" else []))
    assert r.exit_code == 1, r.output
    assert "--> lib/lib1.yaml:" in r.output
    assert line in r.output and "^" in r.output, r.output


def test_a_yaml_error_in_an_extended_base_has_its_excerpt(tmp_path, monkeypatch):
    (tmp_path / "base.yaml").write_text("archc: 1\nname: b\nlayers: [\n")
    (tmp_path / "e.yaml").write_text("archc: 1\nname: e\nextends: base\n")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["check", "e.yaml"])
    assert r.exit_code == 1 and "--> base.yaml:3:" in r.output and "3 | layers: [" in r.output, r.output
