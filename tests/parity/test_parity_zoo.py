"""The zoo's specs that declare a `reference:` against their reference implementations."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


ZOO = sorted(p.stem for p in (ROOT / "specs").glob("*.yaml"))


def test_gpt2_small_ties_transposes_keywords():
    pytest.importorskip("transformers")
    if not (ROOT / "specs/gpt2.yaml").exists():
        pytest.skip("no specs/gpt2.yaml")
    r = runner.invoke(app, ["compare", "specs/gpt2.yaml", "--variant", "small", "--set", "T=16", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["reference"] == "transformers:GPT2LMHeadModel"
    assert doc["params"] == doc["reference_params"]            # the tied head counted once on both sides
    assert doc["max_abs_diff"] < 1e-4 and doc["max_grad_rel_diff"] < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_full_size_zoo_matches_its_reference(name):
    import archc

    g = archc.infer(f"specs/{name}.yaml")
    if g.reference is None or not g.reference.against:
        pytest.skip("no reference.against")
    r = runner.invoke(app, ["compare", f"specs/{name}.yaml", "--json"])
    if r.exit_code == 3:
        pytest.skip(r.output)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["passed"] and doc["max_abs_diff"] < 1e-4


KEYSTONES_SMALL = [
    ("resnet18", ["--set", "H=64", "--set", "W=64", "--set", "B=1"]),
    ("resnet50", ["--set", "H=64", "--set", "W=64", "--set", "B=1"]),
    ("vit_b_16", ["--variant", "small"]),
    ("gpt2", ["--variant", "small", "--set", "T=32"]),
    ("bert_base", ["--variant", "small", "--set", "T=32"]),
]


@pytest.mark.parametrize("name,args", KEYSTONES_SMALL, ids=[k for k, _ in KEYSTONES_SMALL])
def test_keystone_small_matches_reference(name, args):
    """Parity: same parameter count, no unmatched keys, outputs and gradients within 1e-4."""
    r = runner.invoke(app, ["compare", f"specs/{name}.yaml", *args, "--json"])
    if r.exit_code == 3:
        pytest.skip(r.output)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["passed"]
    assert doc["params"] == doc["reference_params"]
    assert doc["unmatched_spec"] == [] and doc["unmatched_reference"] == []
    assert doc["max_abs_diff"] < 1e-4
    assert doc["max_grad_rel_diff"] < 1e-4
