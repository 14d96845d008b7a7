"""`archc compare` on randomized, scale-aware weights: the proof can fail.

Default initialisation makes many networks output almost nothing, so a wrong model passed an
absolute tolerance; here the weights are redrawn so activations are of order one, differences are
judged relative to the output's magnitude, several seeds are compared, degenerate references are
refused, and train mode is compared too."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_json_reports_seeds_magnitudes_and_tolerances(tiny_spec):
    r = invoke("compare", str(tiny_spec), "--json", "--seeds", "2", "--seed", "5")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    for k in ("params", "reference_params", "max_abs_diff", "max_grad_diff"):
        assert doc[k] is not None, k
    assert doc["seeds"] == [5, 6] and [run["seed"] for run in doc["runs"]] == [5, 6]
    assert doc["dtype"] == "float64" and doc["rtol"] == 1e-7 and doc["atol"] == 1e-12
    assert doc["weights"]["kind"] == "randomized" and doc["weights"]["seed"] == 5
    # randomized weights keep the output of order one (default init of this net: ~0.3)
    assert 0.1 < doc["reference_max_abs"] < 100 and doc["reference_grad_max_abs"] > 0.1
    assert doc["outputs"]["y"]["reference_max_abs"] >= doc["reference_max_abs"]
    assert doc["max_rel_diff"] < 1e-12 and doc["refused"] is False
    assert doc["train"]["compared"] is True


def test_weights_are_the_same_on_both_sides_and_differ_by_seed(tiny_spec):
    from archc.parity.compare import compare

    a, b = compare(tiny_spec.path, seeds=1, seed=0), compare(tiny_spec.path, seeds=1, seed=1)
    assert a["passed"] and b["passed"]
    assert a["runs"][0]["outputs"]["y"]["reference_max_abs"] != b["runs"][0]["outputs"]["y"]["reference_max_abs"]


def test_relative_judgement(tiny_spec):
    """A shift of 1e-3 on an output of magnitude ~1 fails at rtol 1e-7 and passes at rtol 1e-2."""
    tiny_spec.state["perturb"] = 1e-3
    doc = json.loads(invoke("compare", str(tiny_spec), "--json").stdout)
    assert not doc["passed"] and not doc["refused"]
    y = doc["outputs"]["y"]
    assert y["rel_diff"] == pytest.approx(y["max_abs_diff"] / y["reference_max_abs"])
    assert "of its magnitude" in doc["reasons"][0]
    assert invoke("compare", str(tiny_spec), "--rtol", "1e-2").exit_code == 0


def test_train_mode_is_compared_and_can_fail(tiny_spec):
    tiny_spec.state["train_shift"] = 0.5        # the reference differs from the spec only in train mode
    r = invoke("compare", str(tiny_spec), "--json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert doc["runs"] and all(o["max_abs_diff"] < 1e-12 for o in doc["runs"][0]["outputs"].values())
    assert any(x.startswith("train mode: output `y` differs") for x in doc["reasons"])
    assert invoke("compare", str(tiny_spec), "--no-train").exit_code == 0


def test_degenerate_output_is_refused_not_passed(tiny_spec, monkeypatch):
    from archc.parity import compare as cmp

    monkeypatch.setattr(cmp, "FLOOR", 1e6)     # every output of this net is now "too small to prove anything"
    r = invoke("compare", str(tiny_spec), "--json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert doc["refused"] and not doc["passed"]
    assert any(p["code"] == "ARC605" and "degenerate" in p["message"] for p in doc["problems"])
    assert "REFUSED" in invoke("compare", str(tiny_spec)).stdout


CONSTANT = """\
archc: 1
name: constant
symbols: {B: {example: 2}, T: {example: 3}}
inputs:
  ids: {shape: [B, T], dtype: int64, range: [0, 1]}     # one possible token: every input is the same
layers:
  - emb: {op: embedding, num: 4, dim: 6, from: ids}
  - head: {op: linear, out: 5}
outputs: {y: head}
reference: {against: "test:constant"}
"""


def test_output_constant_across_inputs_is_refused(tmp_path, monkeypatch):
    import torch.nn as nn

    from archc.parity import reference

    def build(name, config, ref):
        return nn.Sequential(nn.Embedding(4, 6), nn.Linear(6, 5))

    monkeypatch.setitem(reference.BUILDERS, "test", build)
    spec = tmp_path / "constant.yaml"
    mapping = r"""
  weights: {rename: [{pattern: '^0\.', to: 'emb.'}, {pattern: '^1\.', to: 'head.'}]}
"""
    spec.write_text(CONSTANT.replace('reference: {against: "test:constant"}\n',
                                     'reference:\n  against: "test:constant"' + mapping))
    for seeds in ("1", "3"):
        r = invoke("compare", str(spec), "--json", "--seeds", seeds)
        assert r.exit_code == 1, r.output
        doc = json.loads(r.stdout)
        assert doc["refused"], doc["reasons"]
        assert any("same for two different inputs" in x for x in doc["reasons"])
    spec.write_text(spec.read_text().replace("range: [0, 1]", "range: [0, 4]"))
    assert invoke("compare", str(spec)).exit_code == 0


def test_float64_sees_an_eps_that_float32_cannot(tmp_path):
    """GPT-2 with its layer norms' eps 1e-5 written as 1e-6 in one block: invisible in float32
    (relative change ~3e-6, below fp32 rounding of a 12-layer net), caught in float64."""
    pytest.importorskip("transformers")
    tree = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", tree)
    spec = tree / "gpt2.yaml"
    text = spec.read_text()
    wrong = text.replace('eps: "${layer_norm_epsilon}"}', 'eps: 1.0e-6}', 1)
    assert wrong != text
    spec.write_text(wrong)
    args = ["compare", str(spec), "--variant", "small", "--set", "T=16", "--json", "--seeds", "1", "--no-train"]
    doc = json.loads(invoke(*args).stdout)
    assert not doc["passed"] and 1e-7 < doc["max_rel_diff"] < 1e-4, doc["reasons"]
    assert json.loads(invoke(*args, "--dtype", "float32").stdout)["passed"]


def test_bad_dtype_and_seeds_are_usage_errors(tiny_spec):
    assert invoke("compare", str(tiny_spec), "--dtype", "int8").exit_code == 2
    assert invoke("compare", str(tiny_spec), "--seeds", "0").exit_code == 2
