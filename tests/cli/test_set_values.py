"""`--set` values are read as a spec file reads them (YAML 1.2 core schema, archc's loader), and a
key given twice is a located ARC114, not a silent last-wins."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from archc.cli._common import parse_sets
from archc.cli.main import app
from archc.errors import DiagnosticError, UsageError

runner = CliRunner()


@pytest.mark.parametrize("text, value", [
    ("020", 20), ("0x10", 16), ("0o17", 15), ("1_000", 1000), ("1e-3", 0.001), ("yes", "yes"), ("on", "on"),
    ("no", "no"), ("true", True), ("1:30", "1:30"), ("2020-01-01", "2020-01-01"), ("'020'", "020"),
    ("[1, 2]", [1, 2]), ("~", None), ("", ""), ("abc", "abc"),
])
def test_set_values_follow_the_core_schema(text, value):
    assert parse_sets([f"k={text}"]).values == {"k": value}


def test_set_020_is_twenty_as_in_a_file():
    r = runner.invoke(app, ["check", "specs/mlp.yaml", "--set", "hidden=020", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["params"] == 784 * 20 + 20 + 20 * 20 + 20 + 20 * 10 + 10


def test_set_yes_is_a_string_not_true():
    r = runner.invoke(app, ["check", "specs/mlp.yaml", "--set", "p=yes"])
    assert r.exit_code == 1 and "error[ARC114]" in r.output and "'yes'" in r.output, r.output


def test_a_repeated_set_key_is_a_located_diagnostic():
    with pytest.raises(DiagnosticError) as e:
        parse_sets(["hidden=32", "depth=1", "hidden=64"])
    (d,) = e.value.diagnostics
    assert d.code == "ARC114" and "`--set hidden` is given twice" in d.message
    assert (d.span.line, d.span.col) == (1, len("--set hidden=32 --set depth=1 --set hidden=") + 1)
    assert d.related[0].span.col == len("--set hidden=") + 1
    r = runner.invoke(app, ["check", "specs/mlp.yaml", "--set", "hidden=32", "--set", "hidden=64"])
    assert r.exit_code == 1 and "error[ARC114]" in r.output and "first given here" in r.output, r.output


def test_a_5000_digit_set_value_is_a_diagnostic():
    r = runner.invoke(app, ["check", "specs/mlp.yaml", "--set", "hidden=" + "9" * 5000])
    assert r.exit_code == 1, r.output
    assert "error[ARC114]" in r.output and "(5,000 characters) cannot be read as `!!int`" in r.output
    assert "internal error" not in r.output


def test_text_that_is_no_value_stays_a_usage_error():
    with pytest.raises(UsageError):
        parse_sets(["k=[1,"])
    with pytest.raises(UsageError):
        parse_sets(["k={a: 1}"])
