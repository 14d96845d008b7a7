"""`archc profile`'s headline gives memory per sample as it gives MACs per sample: the activations
divided by the batch beside the bytes that do not grow with it, for inference and a training step."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from tests.profile.test_headline import MLP

runner = CliRunner()


def run(*args):
    r = runner.invoke(app, ["profile", *map(str, args)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    return r.stdout


def test_per_sample_memory_in_json_and_text(write_spec):
    spec = write_spec(MLP)
    doc = json.loads(run(spec, "--json"))
    mem, tr, ps = doc["memory"], doc["memory"]["training"], doc["per_sample"]
    b = doc["batch"]["size"]
    assert b == 4
    assert ps["activation_bytes"] == pytest.approx(mem["peak_activation_bytes"] / b)
    assert ps["saved_activation_bytes"] == pytest.approx(tr["saved_activation_bytes"] / b)
    w = mem["weights_bytes"] + mem["buffers_bytes"]
    assert ps["inference_bytes"] == pytest.approx(w + ps["activation_bytes"])
    assert ps["training_bytes"] == pytest.approx(w + tr["gradients_bytes"] + tr["optimizer_bytes"] + ps["saved_activation_bytes"])
    lines = run(spec).splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("per sample, memory:"))
    assert lines[i - 1].startswith("per sample, float32:") and lines[i + 1].startswith("batch B=4:")
    assert lines[i] == ("per sample, memory: inference 872 B (weights 712 B + activations 160 B), training step 2.95 KiB "
                        "(weights, gradients and Adam state 2.78 KiB + activations kept for backward 168 B)")
    sgd = run(spec, "--optimizer", "sgd")
    assert "(weights, gradients 1.39 KiB + activations kept for backward 168 B)" in sgd


def test_resnet50_per_sample_memory_is_half_the_batch_of_two():
    doc = json.loads(run("specs/resnet50.yaml", "--json"))
    ps, mem = doc["per_sample"], doc["memory"]
    assert ps["activation_bytes"] == pytest.approx(mem["peak_activation_bytes"] / 2)
    assert mem["static_peak_bytes"] - ps["inference_bytes"] == pytest.approx(ps["activation_bytes"])


def test_no_batch_symbol_no_per_sample(write_spec):
    spec = write_spec(MLP.replace("symbols:\n  B: {example: 4}\n", "").replace("[B, 8]", "[4, 8]"))
    doc = json.loads(run(spec, "--json"))
    assert doc["per_sample"] is None
    assert "per sample, memory" not in run(spec)
