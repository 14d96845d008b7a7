"""The README shows specs and command output as they really are."""
from __future__ import annotations

import re
import shlex

from typer.testing import CliRunner

from archc.cli.main import app
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _blocks(kind: str):
    for m in re.finditer(rf"<!-- {kind}: (.+?) -->\n```\w*\n(.*?)```", README, re.S):
        yield m.group(1), m.group(2)


def test_readme_has_checked_blocks():
    assert len(list(_blocks("output"))) >= 2 and len(list(_blocks("spec"))) >= 1


def test_spec_blocks_are_the_files():
    for path, body in _blocks("spec"):
        assert (ROOT / path).read_text() == body, path


def test_output_blocks_are_real():
    runner = CliRunner()
    for cmd, body in _blocks("output"):
        args = shlex.split(cmd)
        assert args[0] == "archc"
        r = runner.invoke(app, args[1:], env={"COLUMNS": "100"})
        shown = "\n".join(line.rstrip() for line in (r.stdout + r.stderr).splitlines())
        expected = body.split("\n", 1)[1].rstrip("\n")  # drop the "$ archc ..." line
        assert expected.splitlines()[0] if expected else True
        assert shown.strip("\n") == expected.strip("\n"), cmd
