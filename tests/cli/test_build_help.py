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


def test_short_flags_mean_one_thing_across_commands():
    """`-d` is `--depth` wherever it exists (check, graph, profile), never `--device`; each short flag
    names one long option across every command."""
    import typer

    from archc.cli.main import app

    seen: dict[str, set[str]] = {}
    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        for p in cmd.params:
            if p.opts and p.opts[0].startswith("-"):      # an option (typer's own click types)
                longs = [o for o in p.opts if o.startswith("--")]
                for s in (o for o in p.opts + p.secondary_opts if len(o) == 2):
                    seen.setdefault(s, set()).update(longs[:1])
    assert seen["-d"] == {"--depth"}
    same = {frozenset({"--out", "--output"})}          # build's folder, graph's and lint's file: where output goes
    assert {k: v for k, v in seen.items() if len(v) > 1 and frozenset(v) not in same} == {}
