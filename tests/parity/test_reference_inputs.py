"""`reference.inputs`: which of the spec's inputs the reference takes, checked against its forward."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

pytest.importorskip("torch")
runner = CliRunner()

# the tiny spec with a second input `mask` that the reference's forward(features) does not take
EXTRA = ("inputs:\n  x: {shape: [B, 8], dtype: float32}\n",
         "inputs:\n  x: {shape: [B, 8], dtype: float32}\n  mask: {shape: [B, 8], dtype: float32}\n")


def _with_mask(tiny_spec, inputs_line: str | None):
    text = tiny_spec.path.read_text().replace(*EXTRA)
    text = text.replace("- q: {op: linear, out: \"${hidden}\", from: x}",
                        "- masked: {op: mul, from: [x, mask]}\n  - q: {op: linear, out: \"${hidden}\", from: x}")
    if inputs_line is None:
        text = text.replace("  inputs: {x: features}\n", "")
    else:
        text = text.replace("  inputs: {x: features}", f"  inputs: {inputs_line}")
    tiny_spec.path.write_text(text)
    return tiny_spec


def test_an_input_the_reference_does_not_take_can_be_left_out(tiny_spec):
    _with_mask(tiny_spec, "{x: features, mask: null}")
    r = runner.invoke(app, ["compare", str(tiny_spec), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["passed"]


def test_an_extra_positional_input_is_a_located_diagnostic(tiny_spec):
    _with_mask(tiny_spec, None)       # x and mask both positional: forward(features) takes one
    r = runner.invoke(app, ["compare", str(tiny_spec)])
    assert r.exit_code == 1, r.output
    assert "ARC119" in r.output and "too many positional arguments" in r.output
    assert "forward(features)" in r.output and "null" in r.output
    assert "tiny.yaml:8:" in r.output   # the spec's input `mask`


def test_an_unknown_keyword_is_a_located_diagnostic(tiny_spec):
    _with_mask(tiny_spec, "{x: features, mask: attention_mask}")
    r = runner.invoke(app, ["compare", str(tiny_spec)])
    assert r.exit_code == 1, r.output
    assert "ARC119" in r.output and "unexpected keyword argument 'attention_mask'" in r.output, r.output
    assert "mask: attention_mask}\n" in r.output and "^" * len("attention_mask") in r.output   # located at the entry


def test_the_same_argument_twice_is_a_diagnostic_not_exit_4(tiny_spec):
    _with_mask(tiny_spec, "{mask: features}")   # x positionally (-> features) and mask as features=
    r = runner.invoke(app, ["compare", str(tiny_spec)])
    assert r.exit_code == 1, r.output
    assert "ARC119" in r.output and "multiple values for argument 'features'" in r.output


def test_a_spec_input_name_that_does_not_exist(tiny_spec):
    tiny_spec.path.write_text(tiny_spec.path.read_text().replace("inputs: {x: features}", "inputs: {x: features, y: other}"))
    r = runner.invoke(app, ["compare", str(tiny_spec)])
    assert r.exit_code == 1, r.output
    assert "ARC119" in r.output and "`y`, which is not an input of the spec" in r.output


def test_a_type_error_inside_forward_is_a_diagnostic(tiny_spec, monkeypatch):
    from archc.parity import reference
    from tests.parity.conftest import make_tiny_reference

    def build(name, config, ref):
        m = make_tiny_reference()
        def forward(features):
            raise TypeError("forward() got an unexpected tensor layout")
        m.forward = forward
        return m

    monkeypatch.setitem(reference.BUILDERS, "test", build)
    r = runner.invoke(app, ["compare", str(tiny_spec)])
    assert r.exit_code == 1, r.output
    assert "ARC119" in r.output and "unexpected tensor layout" in r.output


def test_a_torchvision_builder_rejecting_the_config_reports_the_real_cause():
    pytest.importorskip("torchvision")
    from archc.parity.reference import BadReference, build_module

    with pytest.raises(BadReference) as e:      # vit_b_16 sets patch_size itself
        build_module("torchvision:vit_b_16", {"patch_size": 8})
    msg = str(e.value)
    assert "got multiple values for keyword argument 'patch_size'" in msg, msg
    assert msg.index("multiple values") < msg.index("missing")   # the builder's error first
    assert e.value.path == ("reference", "config")


def test_a_full_class_config_for_a_torchvision_builder_still_builds():
    pytest.importorskip("torchvision")
    from archc.parity.reference import build_module

    m = build_module("torchvision:vit_b_16", dict(image_size=32, patch_size=16, num_layers=1, num_heads=2,
                                                 hidden_dim=8, mlp_dim=16))
    assert type(m).__name__ == "VisionTransformer" and m.conv_proj.kernel_size == (16, 16)
