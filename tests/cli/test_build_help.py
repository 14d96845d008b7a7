"""`archc build --help` lists the formats the export registry has, not a list written by hand."""
from __future__ import annotations

import re

from typer.testing import CliRunner

from archc.cli.main import app
from archc.export.registry import default_emit, load_formats


def test_emit_help_lists_every_registered_format():
    out = CliRunner().invoke(app, ["build", "--help"]).stdout
    line = " ".join(re.sub(r"[│╭╮╰╯─]", " ", out).split())       # the help box's lines, unwrapped
    listed = re.search(r"Formats: (.*?), or all", line).group(1).split(", ")
    assert listed == list(load_formats()) and len(listed) >= 5
    assert f"default {','.join(default_emit())}" in line


def test_usage_lines_show_plain_placeholders():
    from typer.testing import CliRunner

    from archc.cli.main import app

    usage = {c: CliRunner().invoke(app, [c, "--help"]).stdout.splitlines()[0] for c in ("build", "check", "lint", "ops")}
    assert usage["build"].endswith("build [OPTIONS] SPEC") and usage["check"].endswith("check [OPTIONS] SPEC...")
    assert usage["lint"].endswith("lint [OPTIONS] [PATH...]") and usage["ops"].endswith("ops [OPTIONS] [NAME]")
    assert not any("{" in u for u in usage.values())
