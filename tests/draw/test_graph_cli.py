"""`archc graph` through the CLI: formats, files, exit codes."""
from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

runner = CliRunner()
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


def test_stdout_defaults_to_dot():
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "--depth", "0"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith('digraph "mlp" {') and '"hidden" [label="hidden\\n2 × dense"' in r.stdout


def test_format_from_extension_and_overwrite(tmp_path):
    out = tmp_path / "m.mmd"
    out.write_text("old")
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text().startswith("---\ntitle: mlp\n---\nflowchart TB")
    assert f"wrote {out} (mermaid" in r.stderr


def test_expand_depth_set_variant():
    r = runner.invoke(app, ["graph", "specs/resnet.yaml", "--variant", "resnet18", "--set", "num_classes=10",
                            "--depth", "1", "-f", "mermaid", "--annotate", "params"])
    assert r.exit_code == 0, r.output
    assert 'subgraph c_layer1 ["layer1: 2 × basic' in r.stdout and "resnet (resnet18) | 11.18M params" in r.stdout
    assert '"[B, 10]"' in r.stdout


def test_unknown_expand_is_a_usage_error():
    r = runner.invoke(app, ["graph", "specs/resnet50.yaml", "--expand", "bottlenek"])
    assert r.exit_code == 2
    assert "'bottlenek' is neither a block name nor a scope" in r.stderr and "did you mean 'bottleneck'" in r.stderr


@pytest.mark.parametrize("args, msg", [
    (["--format", "tiff"], "--format must be one of svg, png, pdf, jpg, dot, mermaid, markdown"),
    (["--annotate", "macs"], "--annotate must be one of none, params, flops, all"),
])
def test_bad_options(args, msg):
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", *args])
    assert r.exit_code == 2 and msg in r.stderr


def test_missing_file_and_bad_spec():
    r = runner.invoke(app, ["graph", "specs/nope.yaml"])
    assert r.exit_code == 2 and "no such file" in r.stderr
    r = runner.invoke(app, ["graph", "specs/unet.yaml", "--set", "H=100"])
    assert r.exit_code == 1 and "ARC203" in r.stderr


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_missing_graphviz_exit_3(fmt, tmp_path):
    out = tmp_path / f"x.{fmt}"
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "-o", str(out)], env={"PATH": str(tmp_path)})
    assert r.exit_code == 3, r.output
    assert f"--format {fmt} needs Graphviz's `dot` program" in r.stderr and "--format dot" in r.stderr
    assert not out.exists() and "Traceback" not in r.output


def test_dot_and_mermaid_need_no_graphviz(tmp_path):
    r = runner.invoke(app, ["graph", "specs/unet.yaml", "-f", "mermaid"], env={"PATH": str(tmp_path)})
    assert r.exit_code == 0, r.output


@needs_dot
def test_svg_to_stdout():
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "--format", "svg"])
    assert r.exit_code == 0, r.output
    assert "<svg" in r.stdout and "hidden" in r.stdout


def test_unwritable_output(tmp_path):
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "-o", str(tmp_path / "no" / "such" / "g.dot")])
    assert r.exit_code == 2 and "cannot write" in r.stderr
