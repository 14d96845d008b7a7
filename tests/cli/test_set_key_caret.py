"""An override whose name is no param or symbol points at the name, not at its value."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

import archc
from archc.cli.main import app
from archc.errors import DiagnosticError

runner = CliRunner()


def test_second_set_points_at_its_key():
    r = runner.invoke(app, ["check", "specs/mlp.yaml", "--set", "B=2", "--set", "hiden=3"])
    assert r.exit_code == 1
    assert " --> <command line>:1:17\n" in r.stderr          # `--set B=2 --set hiden=3`: h is column 17
    assert "1 | --set B=2 --set hiden=3\n  |                 ^^^^^\n" in r.stderr


def test_api_overrides_point_at_the_key():
    with pytest.raises(DiagnosticError) as e:
        archc.infer("specs/mlp.yaml", {"B": 2, "hiden": 3})
    d = e.value.diagnostics[0]
    assert d.code == "ARC114" and (d.span.col, d.span.end_col) == (6, 11)     # `B=2, hiden=3`
