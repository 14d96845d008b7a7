"""Specs whose inputs are float16, bfloat16 or float64 check, build and profile: the parameters
follow the input's dtype (not torch's float32 default, which made every such spec ARC602 "a bug
in archc")."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

torch = pytest.importorskip("torch")
runner = CliRunner()

SPEC = """archc: 1
name: t
symbols: {{B: {{example: 2}}}}
inputs: {{x: {{shape: [B, 3, 8, 8], dtype: {dtype}}}}}
layers:
  - c: {{op: conv2d, out: 4, kernel: 3}}
  - n: {{op: batch_norm}}
  - f: {{op: flatten}}
  - l: {{op: linear, out: 4}}
outputs: {{y: {{from: l}}}}
"""
DTYPES = ["float16", "bfloat16", "float64"]


@pytest.fixture(params=DTYPES)
def spec(request, tmp_path):
    p = tmp_path / f"{request.param}.yaml"
    p.write_text(SPEC.format(dtype=request.param))
    return request.param, str(p)


def test_lowering_puts_parameters_in_the_inputs_dtype(spec):
    from archc.pipeline import Options, run

    dtype, path = spec
    gm = run(path, Options(device="cpu"), until="verify").module
    floats = {p.dtype for p in gm.parameters()} | {b.dtype for b in gm.buffers() if b.is_floating_point()}
    assert floats == {getattr(torch, dtype)}


def test_check_verifies(spec):
    dtype, path = spec
    r = runner.invoke(app, ["check", path, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["verified"] is True and doc["outputs"]["y"]["dtype"] == dtype


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_profile_counts_weights_in_the_inputs_dtype(spec, device):
    dtype, path = spec
    r = runner.invoke(app, ["profile", path, "--device", device, "--json", "--repeats", "2", "--warmup", "1"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["dtype"] == dtype
    assert "Warning" not in r.stderr


def test_build_writes_artifacts_in_the_inputs_dtype(spec, tmp_path):
    dtype, path = spec
    out = tmp_path / "out"
    r = runner.invoke(app, ["build", path, "-o", str(out), "--emit", "pt2", "--json"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dtype"] == dtype
    assert manifest["artifacts"]["pt2"]["status"] == "verified" and manifest["ok"] is True
