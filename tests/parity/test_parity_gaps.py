"""Reference and weight-mapping gaps (issue 14, item 6): a reshape in the weight mapping, reference
parameters that are frozen or unused (left out of the gradient check, the unused ones out of the
parameter count too, and the report says which), and the `diffusers:CLASS` reference kind."""
from __future__ import annotations

import json
import sys
import textwrap

import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")

from archc.cli.main import app  # noqa: E402
from archc.parity.weights import map_state_dict, unmap_state_dict  # noqa: E402
from archc.spec.models import WeightMapping  # noqa: E402

runner = CliRunner()


def wm(**kw) -> WeightMapping:
    return WeightMapping.model_validate(kw)


# ---------------------------------------------------------------------------------------------
# map_state_dict: reshape, unused, frozen
# ---------------------------------------------------------------------------------------------


def test_reshape_gives_the_spec_shape_and_unmaps_back():
    g = torch.arange(4.0).reshape(4, 1, 1)
    ref = {"stage.0.layer_scale": g, "fc.weight": torch.ones(3, 2)}
    prov = {}
    res = map_state_dict(ref, wm(reshape=["*.layer_scale"], transpose=["fc.weight"]),
                         {"stage.0.layer_scale": (1, 4, 1, 1), "fc.weight": (2, 3)}, provenance=prov)
    assert res.problems == [] and not res.unmatched_ref and not res.unmatched_spec
    assert tuple(res.mapped["stage.0.layer_scale"].shape) == (1, 4, 1, 1)
    assert torch.equal(res.mapped["stage.0.layer_scale"].flatten(), g.flatten())
    assert prov["stage.0.layer_scale"].shape == (4, 1, 1)
    back = unmap_state_dict(res.mapped, prov)
    assert {k: tuple(v.shape) for k, v in back.items()} == {"stage.0.layer_scale": (4, 1, 1), "fc.weight": (3, 2)}
    assert torch.equal(back["stage.0.layer_scale"], g)


def test_without_reshape_an_equal_sized_value_is_mis_shaped_with_a_hint():
    res = map_state_dict({"gamma": torch.ones(4, 1, 1)}, None, {"gamma": (4, 1, 1, 1)})
    (d,) = res.problems
    assert d.code == "ARC603" and d.message == "`gamma`: reference has [4, 1, 1], spec has [4, 1, 1, 1]"
    assert "list `gamma` under `reference.weights.reshape`" in d.hint


def test_reshape_keeps_the_number_of_elements():
    res = map_state_dict({"gamma": torch.ones(4, 2)}, wm(reshape=["gamma"]), {"gamma": (4, 1)})
    (d,) = res.problems
    assert d.code == "ARC603" and "matches reshape pattern 'gamma'" in d.message and "8 elements" in d.message
    assert res.mapped == {} and res.unmatched_spec == [] and res.unmatched_ref == []


def test_unused_are_dropped_and_listed_frozen_are_kept_and_listed():
    ref = {"net.fc.weight": torch.ones(2, 2), "net.aux.weight": torch.ones(3, 2), "net.temp": torch.ones(())}
    m = wm(rename=[{"pattern": r"^net\.", "to": ""}], unused=["aux.*"], frozen=["net.temp"])
    res = map_state_dict(ref, m, {"fc.weight": (2, 2), "temp": ()})
    assert res.problems == [] and res.unmatched_ref == [] and res.unmatched_spec == []
    assert list(res.mapped) == ["fc.weight", "temp"]
    assert res.unused == ["net.aux.weight"] and res.frozen == ["net.temp"]


# ---------------------------------------------------------------------------------------------
# archc compare with a reference that has a reshaped, a frozen, a detached and an unused parameter
# ---------------------------------------------------------------------------------------------

SPEC = textwrap.dedent("""\
    archc: 1
    name: gaps
    symbols: {B: {example: 2}, H: {example: 6}, W: {example: 6}}
    inputs:
      x: {shape: [B, 3, H, W]}
    layers:
      - conv: {op: conv2d, out: 4, kernel: 3, padding: 1}
      - layer_scale: {op: param, shape: [1, 4, 1, 1], value: 0.5}
      - scaled: {op: mul, from: [conv, layer_scale]}
      - scale: {op: param, shape: []}
      - temperature: {op: param, shape: [], value: 2.0}
      - a: {op: mul, from: [scaled, scale]}
      - out: {op: mul, from: [a, temperature]}
    outputs: {y: out}
    reference:
      against: "test:gaps"
      weights:
        reshape: [layer_scale]
        unused: ["aux_head.*"]
        frozen: [temperature]
    """)


def _reference():
    import torch.nn as nn

    class Gaps(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.layer_scale = nn.Parameter(torch.full((4, 1, 1), 0.5))           # the spec's [1, 4, 1, 1]
            self.scale = nn.Parameter(torch.tensor(1.5), requires_grad=False)    # frozen
            self.temperature = nn.Parameter(torch.tensor(2.0))                   # read detached: no gradient
            self.aux_head = nn.Linear(4, 7)                                       # never called

        def forward(self, x):
            return self.conv(x) * self.layer_scale * self.scale * self.temperature.detach()

    return Gaps()


@pytest.fixture
def gaps(tmp_path, monkeypatch):
    from archc.parity import reference

    monkeypatch.setitem(reference.BUILDERS, "test", lambda name, config, ref: _reference())
    p = tmp_path / "gaps.yaml"
    p.write_text(SPEC)
    return p


def test_compare_passes_and_states_what_it_left_out(gaps):
    r = runner.invoke(app, ["compare", str(gaps), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["passed"], doc["reasons"]
    spec_params = 4 * 3 * 9 + 4 + 4 + 1 + 1
    assert doc["params"] == doc["reference_params"] == spec_params
    assert doc["unused_reference"] == ["aux_head.weight", "aux_head.bias"] and doc["unused_reference_params"] == 4 * 7 + 7
    assert doc["frozen_reference"] == ["scale", "temperature"] and doc["frozen_reference_params"] == 2
    assert all(run["grad_frozen"] == ["scale", "temperature"] for run in doc["runs"])
    assert doc["worst_grad_key"] in ("conv.weight", "conv.bias", "layer_scale")
    r = runner.invoke(app, ["compare", str(gaps)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "reference parameters declared unused: not counted, no gradient: 2 (35 values): aux_head.weight, aux_head.bias" in text
    assert "reference parameters frozen: no gradient compared: 2 (2 values): scale, temperature" in text


@pytest.mark.parametrize("drop, words", [
    ("    reshape: [layer_scale]\n", "`layer_scale`: reference has [4, 1, 1], spec has [1, 4, 1, 1]"),
    ("    unused: [\"aux_head.*\"]\n", "parameter counts differ: spec 118, reference 153"),
    ("    frozen: [temperature]\n", "gradients differ at seed 0: at `temperature`"),
])
def test_each_declaration_is_needed(gaps, drop, words):
    assert drop in SPEC
    gaps.write_text(SPEC.replace(drop, ""))
    r = runner.invoke(app, ["compare", str(gaps), "--json"])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert not doc["passed"] and any(words in p["message"] for p in doc["problems"]), doc["problems"]


def test_a_declared_unused_parameter_is_named_in_the_count_reason(gaps):
    gaps.write_text(SPEC.replace("  - temperature:", "  - extra: {op: param, shape: [3]}\n  - temperature:"))
    r = runner.invoke(app, ["compare", str(gaps), "--json"])
    doc = json.loads(r.stdout)
    assert any("parameter counts differ: spec 121, reference 118 (35 in 2 parameters declared unused left out)"
               in p["message"] for p in doc["problems"]), doc["problems"]


# ---------------------------------------------------------------------------------------------
# diffusers:CLASS
# ---------------------------------------------------------------------------------------------


def test_diffusers_reference_is_built_from_its_config():
    pytest.importorskip("diffusers", reason="diffusers is not installed: pip install 'archc-compiler[reference]' (or diffusers)")
    from archc.parity.reference import BadReference, build_module

    config = {"_class_name": "AutoencoderKL", "_diffusers_version": "0.42.1", "block_out_channels": [8],
              "norm_num_groups": 4, "latent_channels": 2}
    m = build_module("diffusers:AutoencoderKL", config)
    assert type(m).__name__ == "AutoencoderKL" and not m.training
    assert list(m.config.block_out_channels) == [8] and m.config.latent_channels == 2
    with pytest.raises(BadReference) as e:
        build_module("diffusers:AutoencoderKL", {"block_out_channel": [8]})
    assert e.value.path == ("reference", "config") and "block_out_channel" in str(e.value)
    with pytest.raises(BadReference) as e:
        build_module("diffusers:DDPMScheduler", {})
    assert "not a model" in str(e.value)
    with pytest.raises(BadReference) as e:
        build_module("diffusers:AutoencoderKLL", {})
    assert "diffusers:AutoencoderKL" in str(e.value)   # did you mean


def test_missing_diffusers_exits_3_with_the_install_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "diffusers", None)   # `import diffusers` now raises ImportError
    r = runner.invoke(app, ["compare", "specs/mlp.yaml", "--against", "diffusers:AutoencoderKL"])
    assert r.exit_code == 3, r.output
    assert "diffusers" in r.output and "pip install 'archc-compiler[reference]' (or diffusers)" in " ".join(r.output.split())
