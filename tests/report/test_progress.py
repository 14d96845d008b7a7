"""Progress on long work (archc.report.progress): the pipeline's stages and the steps inside
them reach stderr as they start; plain lines off a terminal (after the first second), a transient
status on one, nothing with --json."""
from __future__ import annotations

import io
import re

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from archc.report.progress import Progress
from tests.conftest import ROOT


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_off_a_terminal_start_after_a_second(monkeypatch):
    monkeypatch.setenv("ARCHC_PROGRESS", "auto")
    out = io.StringIO()
    with Progress(stream=out) as p:
        p("lower")                      # at once: a quick command prints nothing
        p.t0 -= 2.0                     # two seconds later
        p("exporting onnx")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and re.fullmatch(r"archc: 2\.\d s: exporting onnx", lines[0])
    assert p.steps == ["building the module", "exporting onnx"]


def test_always_and_never(monkeypatch):
    monkeypatch.setenv("ARCHC_PROGRESS", "always")
    out = io.StringIO()
    with Progress(stream=out) as p:
        p("verify")
    assert out.getvalue().startswith("archc: 0.") and out.getvalue().endswith(": verifying every node's shape\n")
    monkeypatch.setenv("ARCHC_PROGRESS", "never")
    out = io.StringIO()
    with Progress(stream=out) as p:
        p.t0 -= 5
        p("verify")
    assert out.getvalue() == ""
    monkeypatch.setenv("ARCHC_PROGRESS", "auto")
    out = io.StringIO()
    with Progress(enabled=False, stream=out) as p:          # --json
        p.t0 -= 5
        p("verify")
    assert out.getvalue() == ""


def test_on_a_terminal_a_transient_status_and_no_lines(monkeypatch):
    monkeypatch.setenv("ARCHC_PROGRESS", "auto")
    out = Tty()
    with Progress(stream=out) as p:
        assert p.terminal and p.status is not None
        p.t0 -= 3
        p("exporting pt2")
    assert "archc: 3" not in out.getvalue() and p.status is None


def test_build_shows_its_stages_and_steps(tmp_path, monkeypatch):
    pytest.importorskip("safetensors")
    monkeypatch.setenv("ARCHC_PROGRESS", "always")
    r = CliRunner().invoke(app, ["build", str(ROOT / "specs/mlp.yaml"), "-o", str(tmp_path / "o"), "--emit", "source,pt2"])
    assert r.exit_code == 0, r.output
    steps = [line.split(": ", 2)[2] for line in r.stderr.splitlines() if line.startswith("archc: ")]
    for want in ("reading the spec", "inferring shapes", "building the module", "verifying every node's shape",
                 "tracing the program (torch.export)", "exporting source", "verifying source at 2 sizes",
                 "exporting pt2", "verifying pt2 at 2 sizes"):
        assert want in steps, (want, steps)
    assert steps.index("building the module") < steps.index("exporting pt2") < steps.index("exporting source")  # registry order
    j = CliRunner().invoke(app, ["build", str(ROOT / "specs/mlp.yaml"), "-o", str(tmp_path / "j"), "--emit", "source", "--json"])
    assert j.exit_code == 0 and not [line for line in j.stderr.splitlines() if line.startswith("archc: ")]


def test_check_and_compare_show_their_steps(monkeypatch):
    monkeypatch.setenv("ARCHC_PROGRESS", "always")
    r = CliRunner().invoke(app, ["check", str(ROOT / "specs/mlp.yaml")])
    assert r.exit_code == 0 and "verifying every node's shape" in r.stderr
    pytest.importorskip("torchvision")
    c = CliRunner().invoke(app, ["compare", str(ROOT / "specs/resnet18.yaml"), "--set", "H=32", "--set", "W=32",
                                 "--seeds", "2", "--no-train"])
    assert c.exit_code == 0, c.output
    for want in ("building the reference torchvision:resnet18", "seed 0 (1 of 2)", "seed 1 (2 of 2)"):
        assert want in c.stderr, c.stderr
