"""`archc lint`'s start-up path: the command line read without the typer app (archc/cli/lint.py
`fast_args`) means what the typer app reads it as, and lint's start-up imports nothing it does not need."""
from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

import archc.cli.lint as lint_cli
from archc.cli.main import app, lint_app
from tests.conftest import ROOT

CASES = [
    [],
    ["specs"],
    ["specs", "tests/lint/fixtures"],
    ["specs", "-f", "json", "--select", "ARC3", "--select=ARC4,ARC5", "--ignore", "ARC401"],
    ["--format=sarif", "-o", "out.sarif", "specs/mlp.yaml", "--isolated", "--jobs", "1"],
    ["--fail-on", "warning", "--opset", "17", "--skip-non-specs", "--debug", "specs"],
    ["-j", "-1", "--config", "pyproject.toml", "--", "-odd-name.yaml"],
    ["--fix", "--diff", "-", "specs"],
    ["--explain", "ARC304"],
    ["--list-rules"],
    ["specs", "--format", "json", "--format", "text"],      # repeated: the last one wins
]


def typer_reads(argv: list[str], monkeypatch) -> dict:
    """The arguments the typer app passes to `lint` for `archc lint ARGV`."""
    seen = {}

    def capture(body, debug):
        seen.update(sys._getframe(1).f_locals)
        seen.pop("body", None)

    monkeypatch.setattr(lint_cli, "run_command", capture)
    r = CliRunner().invoke(app, ["lint", *argv])
    assert r.exit_code == 0, r.output
    return seen


@pytest.mark.parametrize("argv", CASES, ids=lambda a: " ".join(a) or "(none)")
def test_fast_path_reads_the_line_as_typer_does(argv, monkeypatch):
    fast = lint_cli.fast_args(argv)
    assert fast is not None
    want = typer_reads(argv, monkeypatch)
    assert {k: (list(v) if isinstance(v, tuple) else v) for k, v in fast.items()} == \
           {k: (list(v) if isinstance(v, tuple) else v) for k, v in want.items()}


@pytest.mark.parametrize("argv", [
    ["--help"], ["-h"], ["--no-such-option"], ["-fjson"], ["--jobs", "x"], ["--opset", "1e3"], ["--fix=yes"],
    ["-o"], ["specs", "--format"],
])
def test_anything_else_is_left_to_typer(argv):
    assert lint_cli.fast_args(argv) is None


def test_lint_app_says_what_the_whole_app_says():
    runner = CliRunner()
    for argv in (["lint", "--help"], ["lint", "--bogus"], ["lint", "--jobs", "x"], ["lint", "--explain", "ARC304"]):
        a, b = runner.invoke(app, argv, prog_name="archc"), runner.invoke(lint_app(), argv, prog_name="archc")
        assert (a.exit_code, a.output) == (b.exit_code, b.output), argv


def _modules_after(argv: list[str]) -> set[str]:
    code = (f"import sys\nfrom archc.cli.main import main\nsys.argv = ['archc', *{argv!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint(' '.join(sorted(sys.modules)), file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    return set(p.stderr.strip().splitlines()[-1].split())


def test_lint_start_up_imports_only_what_lint_needs():
    mods = _modules_after(["lint", "specs", "--isolated"])
    assert "archc.lint_driver.engine" in mods            # it did lint
    for heavy in ("torch", "rich", "ruamel", "archc.export", "archc.profile", "archc.cli.build", "archc.cli.profile",
                  "typer._adapters"):
        assert heavy not in mods, heavy
    # the typer app still reads what the fast path leaves to it
    assert "typer._adapters" in _modules_after(["lint", "--help"])
