"""`archc compare`: a spec against its reference implementation."""
from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

pytest.importorskip("torch")
runner = CliRunner()
SMALL = ["--set", "H=64", "--set", "W=64", "--set", "B=1"]


def invoke(*args):
    return runner.invoke(app, list(args))


def test_resnet18_matches_torchvision_json():
    pytest.importorskip("torchvision")
    r = invoke("compare", "specs/resnet18.yaml", "--against", "torchvision:resnet18", *SMALL, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["passed"] is True and doc["reference"] == "torchvision:resnet18"
    assert doc["params"] == doc["reference_params"] == 11689512
    assert doc["unmatched_spec"] == [] and doc["unmatched_reference"] == []
    assert doc["max_abs_diff"] < 1e-4 and doc["max_grad_diff"] < 1e-4 and doc["max_grad_rel_diff"] < 1e-4
    assert doc["outputs"]["logits"]["shape"] == [1, 1000] and doc["outputs"]["logits"]["max_abs_diff"] < 1e-4
    assert isinstance(doc["worst_grad_key"], str)


def test_resnet18_matches_timm_table():
    pytest.importorskip("timm")
    r = invoke("compare", "specs/resnet18.yaml", "--against", "timm:resnet18", *SMALL)
    assert r.exit_code == 0, r.output
    assert "PASS resnet18 matches timm:resnet18" in r.stdout
    assert "11,689,512" in r.stdout


def test_other_depth_fails_with_unmatched_keys():
    pytest.importorskip("torchvision")
    r = invoke("compare", "specs/resnet18.yaml", "--against", "torchvision:resnet34", "--set", "H=32", "--set", "W=32")
    assert r.exit_code == 1, r.output
    assert "parameter counts differ: spec 11,689,512, reference 21,797,672" in r.stdout
    assert "reference key `layer1.2.conv1.weight` matches nothing in the spec" in r.stdout
    assert "FAIL resnet18 does not match torchvision:resnet34" in r.stdout
    r = invoke("compare", "specs/resnet18.yaml", "--against", "torchvision:resnet34", "--set", "H=32", "--set", "W=32", "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["passed"] is False and doc["max_abs_diff"] > 1e-4   # extra reference keys: still loadable
    assert "layer1.2.conv1.weight" in doc["unmatched_reference"] and doc["unmatched_spec"] == []
    assert {p["code"] for p in doc["problems"]} == {"ARC603", "ARC604"}


def test_num_classes_follows_the_spec_reference_config():
    # specs/resnet.yaml passes num_classes to the reference: both sides have 10 classes
    pytest.importorskip("torchvision")
    r = invoke("compare", "specs/resnet18.yaml", *SMALL, "--set", "num_classes=10", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["outputs"]["logits"]["shape"] == [1, 10]


def test_mis_shaped_weights_name_both_sides(tiny_spec):
    r = invoke("compare", str(tiny_spec), "--set", "out=7")   # the reference's config keeps 5 outputs
    assert r.exit_code == 1, r.output
    assert "`head.weight`: reference `head_w` has [5, 6], spec has [7, 6]" in r.stdout
    assert "`head.bias`: reference `head_b` has [5], spec has [7]" in r.stdout
    assert "FAIL" in r.stdout


def test_no_reference_is_a_usage_error():
    r = invoke("compare", "specs/mlp.yaml")
    assert r.exit_code == 2
    assert "--against" in r.output


def test_unknown_model_is_a_usage_error_with_suggestions():
    pytest.importorskip("torchvision")
    r = invoke("compare", "specs/resnet18.yaml", "--against", "torchvision:resnet19", *SMALL)
    assert r.exit_code == 2, r.output
    assert "torchvision:resnet18" in r.output
    r = invoke("compare", "specs/resnet18.yaml", "--against", "keras:resnet18", *SMALL)
    assert r.exit_code == 2 and "torchvision:NAME" in r.output


@pytest.mark.parametrize("package, ref", [("torchvision", "torchvision:resnet18"), ("timm", "timm:resnet18"),
                                          ("transformers", "transformers:GPT2Model")])
def test_missing_reference_package_exits_3(monkeypatch, package, ref):
    monkeypatch.setitem(sys.modules, package, None)   # `import package` now raises ImportError
    r = invoke("compare", "specs/resnet18.yaml", "--against", ref, *SMALL)
    assert r.exit_code == 3, r.output
    assert package in r.output and "pip install" in r.output


def test_tiny_spec_every_mapping_kind(tiny_spec):
    r = invoke("compare", str(tiny_spec), "--json")        # REF from the spec's reference.against
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["reference"] == "test:tiny" and doc["passed"]
    assert doc["params"] == doc["reference_params"] == 3 * (8 * 4 + 4) + (12 * 6 + 6) + (6 * 5 + 5)
    assert doc["max_abs_diff"] < 1e-6 and doc["max_grad_diff"] < 1e-5
    assert doc["unmatched_reference"] == []


def test_tiny_spec_config_follows_params(tiny_spec):
    r = invoke("compare", str(tiny_spec), "--set", "hidden=6", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["params"] == 3 * (8 * 6 + 6) + (18 * 6 + 6) + (6 * 5 + 5)


def test_a_real_difference_is_detected(tiny_spec):
    tiny_spec.state["perturb"] = 1e-3
    r = invoke("compare", str(tiny_spec), "--json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert 5e-4 < doc["max_abs_diff"] < 2e-3 and doc["max_grad_diff"] < 1e-5   # a constant shift: same gradients
    assert any("output `y` differs" in p["message"] for p in doc["problems"])
    r = invoke("compare", str(tiny_spec), "--tol", "1e-2")
    assert r.exit_code == 0 and "PASS" in r.stdout


def test_bad_output_selector_is_a_spec_diagnostic(tiny_spec):
    tiny_spec.path.write_text(tiny_spec.path.read_text().replace("outputs: {y: out}", "outputs: {y: logits}"))
    r = invoke("compare", str(tiny_spec))
    assert r.exit_code == 1, r.output
    assert "ARC119" in r.output and "no field `logits`" in r.output and "other, out" in r.output


def test_python_api(tiny_spec):
    from archc.parity.compare import compare

    doc = compare(tiny_spec.path, seed=3)
    assert doc["passed"] and doc["seed"] == 3


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_full_size_resnets_match_torchvision(name):
    pytest.importorskip("torchvision")
    r = invoke("compare", f"specs/{name}.yaml", "--against", f"torchvision:{name}", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["max_abs_diff"] < 1e-4 and doc["max_grad_diff"] < 1e-4
