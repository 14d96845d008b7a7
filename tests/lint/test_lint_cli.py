"""`archc lint` exit codes, options and usage errors."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from tests.lint._util import fixture

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["lint", *args])


def test_zoo_is_clean():
    r = invoke("specs")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("0 errors, 0 warnings")


@pytest.mark.parametrize("args, code", [
    ((str(fixture("ARC306", "bad")),), 0),
    ((str(fixture("ARC306", "bad")), "--fail-on", "warning"), 1),
    ((str(fixture("ARC306", "bad")), "--fail-on", "warning", "--ignore", "ARC306"), 0),
    ((str(fixture("ARC307", "bad")),), 1),
    ((str(fixture("ARC307", "bad")), "--select", "ARC4,ARC5"), 0),
    (("tests/bad/017_undefined_from.yaml",), 1),
    (("tests/bad/017_undefined_from.yaml", "--ignore", "ARC1"), 1),   # spec errors are always reported
])
def test_exit_codes(args, code):
    r = invoke(*args, "--isolated")
    assert r.exit_code == code, r.output


@pytest.mark.parametrize("args, message", [
    (("no/such/file.yaml",), "no such file or folder"),
    (("specs", "--format", "xml"), "--format must be one of"),
    (("specs", "--select", "E501"), "not a code or prefix"),
    (("specs", "--fail-on", "never"), "--fail-on must be one of"),
    (("specs", "--opset", "3"), "--opset must be"),
    (("specs", "--config", "nope.toml"), "--config: no such file"),
    (("--explain", "ARC999"), "no rule"),
])
def test_usage_errors_exit_2(args, message):
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output


def test_explain_and_list_rules():
    r = invoke("--explain", "arc301")
    assert r.exit_code == 0 and r.stdout.startswith("ARC301 deep-plain-chain (warning):")
    assert "Why it matters:" in r.stdout and "Use instead:" in r.stdout
    r = invoke("--list-rules")
    assert r.exit_code == 0 and "ARC501  onnx-unsupported" in r.stdout


def test_every_bad_spec_is_reported_without_a_traceback():
    r = invoke("tests/bad", "--isolated")
    assert r.exit_code in (1, 4), r.output  # 4 only if a bad spec hits a bug in the front end
    assert "Traceback" not in r.output
    assert "errors" in r.stdout and "files linted" in r.stdout


def test_a_bug_while_linting_one_file_does_not_stop_the_others(tmp_path, monkeypatch):
    from archc.lint_driver import engine

    real = engine.Linter._lint

    def buggy(self, p, *args):
        if p.name == "a.yaml":
            raise ValueError("boom")
        return real(self, p, *args)

    monkeypatch.setattr(engine.Linter, "_lint", buggy)
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(fixture("ARC307", "bad").read_text())
    r = invoke(str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"), "--isolated", "-j", "1")
    assert r.exit_code == 4
    assert "internal error while linting" in r.output and "a.yaml: ValueError: boom" in r.output
    assert "error[ARC307]" in r.output and "1 file linted" in r.output
    assert "Traceback" not in r.output


def test_explain_takes_rule_names():
    by_name = invoke("--explain", "bias-before-batch-norm")
    by_code = invoke("--explain", "ARC304")
    assert by_name.exit_code == 0 and by_name.stdout == by_code.stdout and "ARC304" in by_name.stdout
    near = invoke("--explain", "bias-before-batchnorm")
    assert near.exit_code == 2 and "did you mean bias-before-batch-norm" in near.output
