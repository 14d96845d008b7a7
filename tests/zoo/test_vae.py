"""The VAE against diffusers' AutoencoderKL(): parameter count and state_dict keys, randomized parity
of the deterministic path (the posterior's mean decoded), static shapes equal executed ones at two
sizes, and `archc build` verified with H and W dynamic."""
from __future__ import annotations

import pytest

import archc

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers", reason="pip install diffusers (the VAE's reference)")

SPEC = "specs/vae_kl.yaml"
SMALL = {"B": 1, "H": 16, "W": 16}


def _reference():
    with torch.device("meta"):
        return diffusers.AutoencoderKL()


def test_count_and_keys_match_diffusers():
    ref = _reference()
    assert sum(p.numel() for p in ref.parameters()) == 563_175
    assert archc.infer(SPEC).param_count == 563_175
    gm = archc.compile(SPEC, device="meta")
    ours = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    # diffusers' key for every spec key: only the mid-block's second resnet is renamed (see the spec)
    theirs = {k.replace("mid_block.resnets.1.", "mid_block.resnets_1."): tuple(v.shape) for k, v in ref.state_dict().items()}
    assert ours == theirs
    assert "encoder.mid_block.attentions.0.to_out.0.weight" in ours


def test_compare_passes_on_randomized_weights():
    from archc.parity.compare import compare

    doc = compare(SPEC, None, SMALL, seeds=2)
    assert doc["passed"] and not doc["refused"], doc["reasons"]
    assert doc["params"] == doc["reference_params"] == 563_175
    assert doc["unmatched_spec"] == [] and doc["unmatched_reference"] == []
    assert doc["weights"]["kind"] == "randomized"
    # the proof is not vacuous: the reference's image and gradients are of order one
    assert doc["reference_max_abs"] > 0.1 and doc["reference_grad_max_abs"] > 0.1
    assert doc["train"]["compared"]


def test_compare_fails_on_a_wrong_mid_block_eps(tmp_path):
    """A spec that differs from the reference in one group norm's eps fails."""
    import shutil

    from archc.parity.compare import compare

    shutil.copytree("specs", tmp_path / "specs")
    lib = tmp_path / "specs" / "lib" / "vae.yaml"
    text = lib.read_text()
    old = '- group_norm: {op: group_norm, groups: "${groups}", eps: "${eps}"}'
    assert old in text
    lib.write_text(text.replace(old, '- group_norm: {op: group_norm, groups: "${groups}", eps: 1.0e-3}'))
    doc = compare(str(tmp_path / "specs" / "vae_kl.yaml"), None, SMALL, seeds=1, train=False)
    assert not doc["passed"]


@pytest.mark.parametrize("size", [(16, 16), (24, 20)])
def test_executed_shapes_equal_static_shapes(size):
    from archc.codegen.verify import verify
    from archc.pipeline import Options, from_graph, run

    graph = run(SPEC, Options(), until="check").graph
    gm = run(from_graph(graph, Options(device="meta")), until="lower").module
    env = {**graph.example_env, "B": 1, "H": size[0], "W": size[1]}
    assert verify(gm, graph, env) == []
    # one module, compiled once, runs at both sizes with the image's size kept
    real = archc.compile(SPEC, SMALL)
    with torch.no_grad():
        y = real(torch.randn(1, 3, *size))
    assert tuple(y.shape) == (1, 3, *size)


def test_build_verifies_with_dynamic_h_and_w(tmp_path):
    from archc.api import build

    res = build(SPEC, str(tmp_path / "out"), emit=["pt2"], overrides=SMALL, latency_runs=1)
    m = res.manifest
    assert m["ok"], m["diagnostics"]
    for s in ("H", "W"):
        assert m["symbols"][s]["dynamic"], (s, m["symbols"][s])
    a = m["artifacts"]["pt2"]
    assert a["status"] == "verified", a
    assert len(a["sizes"]) == 2 and all(x["ok"] for x in a["sizes"])
    assert a["sizes"][0]["sizes"]["H"] != a["sizes"][1]["sizes"]["H"]
    ep = torch.export.load(str(tmp_path / "out" / "model.pt2"))
    assert tuple(ep.module()(torch.randn(2, 3, 12, 20)).shape) == (2, 3, 12, 20)   # a third size


def test_reference_forward_takes_the_noise():
    """archc.parity.reference gives AutoencoderKL's forward a `noise` keyword: diffusers' own posterior
    sampling with that tensor as its draw (and a deep copy calls its own forward)."""
    import copy

    from archc.parity.reference import build_module

    ref = build_module("diffusers:AutoencoderKL")
    x, n = torch.randn(1, 3, 8, 8), torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        post = ref.encode(x).latent_dist
        expected = ref.decode(post.mean + torch.exp(0.5 * post.logvar.clamp(-30, 20)) * n).sample
        sampled = ref(x, noise=n).sample
        assert torch.equal(sampled, expected)
        assert torch.equal(ref(x).sample, ref.decode(post.mean).sample)        # no noise: the mode
        assert not torch.allclose(sampled, ref(x).sample)
        twin = copy.deepcopy(ref)
        assert twin.forward.__self__ is twin and torch.equal(twin(x, noise=n).sample, sampled)
        with pytest.raises(ValueError, match="noise input has shape"):
            ref(x, noise=torch.randn(1, 4, 4, 4))


SAMPLE = "specs/vae_kl_sample.yaml"


def test_sampling_path_compares_with_diffusers_sampling():
    """z = mean + exp(0.5 * clamp(logvar)) * noise against diffusers' own posterior sampling, fed the
    same noise (the reference's `noise` keyword)."""
    from archc.parity.compare import compare

    doc = compare(SAMPLE, None, SMALL, seeds=2)
    assert doc["passed"] and not doc["refused"], doc["reasons"]
    assert doc["params"] == doc["reference_params"] == 563_175


@pytest.mark.parametrize("old,new", [
    ("- half_logvar:     {op: mul, from: [logvar, 0.5]}", "- half_logvar:     {op: mul, from: [logvar, 1.0]}"),
    ("- spread:          {op: mul, from: [std, noise]}", "- spread:          {op: mul, from: [std, 0.0]}"),
])
def test_sampling_path_fails_when_wrong(tmp_path, old, new):
    """The sampling comparison can fail: the variance's exponent doubled, or the noise dropped (z = mean)."""
    import shutil

    from archc.parity.compare import compare

    shutil.copytree("specs", tmp_path / "specs")
    p = tmp_path / "specs" / "vae_kl_sample.yaml"
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new))
    doc = compare(str(p), None, SMALL, seeds=1, train=False)
    assert not doc["passed"]


def test_two_blocks_compare_passes():
    """With a second block: the encoder's Downsample2D (pad right and bottom, stride-2 conv), the
    decoder's Upsample2D and the 1x1 conv_shortcut where the channels change."""
    from archc.parity.compare import compare

    doc = compare(SPEC, None, SMALL, "two_blocks", seeds=1)
    assert doc["passed"] and not doc["refused"], doc["reasons"]
    assert doc["params"] == 658_375


def test_stable_diffusion_vae_count_and_keys():
    cfg = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2,
               down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
    with torch.device("meta"):
        ref = diffusers.AutoencoderKL(**cfg)
    gm = archc.compile(SPEC, variant="sd", device="meta")
    ours = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    theirs = {k.replace("mid_block.resnets.1.", "mid_block.resnets_1."): tuple(v.shape) for k, v in ref.state_dict().items()}
    assert ours == theirs and sum(p.numel() for p in gm.parameters()) == 83_653_863
