"""ResNet-18/50 against torchvision: parameter counts, state_dict keys and shapes, outputs."""
from __future__ import annotations

import pytest

import archc

torchvision = pytest.importorskip("torchvision", reason="pip install 'archc-compiler[reference]' (torchvision)")


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_counts_and_keys_match_torchvision(name, tmp_path):
    import torch

    with torch.device("meta"):
        ref = getattr(torchvision.models, name)()
    ref_params = sum(p.numel() for p in ref.parameters())
    ref_keys = {k: tuple(v.shape) for k, v in ref.state_dict().items()}

    from typer.testing import CliRunner

    from archc.cli.main import app

    res = CliRunner().invoke(app, ["check", f"specs/{name}.yaml", "--json"])
    assert res.exit_code == 0, res.output
    import json

    doc = json.loads(res.stdout)
    assert doc["params"] == ref_params
    gm = archc.compile(f"specs/{name}.yaml", device="meta")
    assert {k: tuple(v.shape) for k, v in gm.state_dict().items()} == ref_keys
    assert list(gm.state_dict()) == list(ref.state_dict())  # same order too


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_outputs_match_torchvision_small_input(name):
    import torch

    ref = getattr(torchvision.models, name)().eval()
    gm = archc.compile(f"specs/{name}.yaml", {"H": 64, "W": 64, "B": 1})
    gm.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (gm(x) - ref(x)).abs().max().item() < 1e-4
