"""Every spec in the zoo: loads, infers, lowers, and its executed shapes equal the inferred ones."""
from __future__ import annotations

import pytest

import archc
from archc.codegen.verify import verify
from archc.pipeline import Options, from_graph, run
from tests.conftest import LIBS, SPECS, ZOO

SMALL = {  # full-size specs are checked on the meta device; these keep CPU runs small
    "resnet": {"H": 64, "W": 64},
}


def test_zoo_is_not_empty():
    assert {p.stem for p in ZOO} >= {"mlp", "resnet18", "resnet50", "unet"}


@pytest.mark.parametrize("path", ZOO + LIBS, ids=lambda p: p.relative_to(SPECS).as_posix())
def test_schema_line_first(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target.name == "archc.schema.json" and target.is_file()


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_meta_verification(path):
    """Static shapes equal the shapes fake/meta tensors take through the GraphModule, at every node."""
    unit = run(str(path), Options(param_limit=None, device="meta"), until="verify")  # meta allocates nothing
    gm, graph = unit.module, unit.graph
    assert unit.verified == []
    assert sum(p.numel() for p in gm.parameters()) == graph.param_count
    assert all(p.is_meta for p in gm.parameters())


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_second_size_verifies(path):
    """Inference is symbolic: a second size, valid under the derived constraints, also verifies."""
    graph = run(str(path), Options(param_limit=None), until="check").graph
    env = dict(graph.example_env)
    for name, s in graph.symbols.items():
        m = 1
        for c in graph.constraints:
            if c.symbols == (name,) and c.modulus:
                m = max(m, c.modulus)
        env[name] = s.example + max(m, s.range.multiple_of)
        if s.range.max is not None and env[name] > s.range.max:
            env[name] = s.example
    gm = run(from_graph(graph, Options(device="meta")), until="lower").module
    assert verify(gm, graph, env) == []


def test_same_seed_same_weights():
    a = archc.compile("specs/mlp.yaml")
    b = archc.compile("specs/mlp.yaml")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and va.dtype == vb.dtype and bool((va == vb).all()), ka


def test_seed_changes_weights(tmp_path):
    text = open("specs/mlp.yaml").read()
    p = tmp_path / "mlp.yaml"
    p.write_text(text.replace("layers:\n  - hidden", "init: {seed: 7}\nlayers:\n  - hidden"))
    a = archc.compile("specs/mlp.yaml")
    b = archc.compile(str(p))
    assert not bool((a.state_dict()["head.weight"] == b.state_dict()["head.weight"]).all())


def test_compile_does_not_disturb_global_rng():
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    archc.compile("specs/mlp.yaml")
    assert torch.equal(torch.rand(3), expected)


def test_mlp_params_derived():
    # 784 -> 256 -> 256 -> 10, each linear with bias
    expected = (784 * 256 + 256) + (256 * 256 + 256) + (256 * 10 + 10)
    assert archc.infer("specs/mlp.yaml").param_count == expected


def test_mlp_variants_and_overrides():
    g = archc.infer("specs/mlp.yaml", {"hidden": 64, "depth": 3, "p": 0.0})
    assert [n.path for n in g.nodes if n.op == "linear"] == ["hidden.0.fc", "hidden.1.fc", "hidden.2.fc", "head"]
    assert not any(n.op == "dropout" for n in g.nodes)  # `when: p > 0` dropped them


def test_unet_params_derived():
    """Ronneberger et al. 2015 layout, padded: derive the count from the channel plan."""
    def conv(cin, cout, k):
        return cin * cout * k * k + cout

    def double(cin, cout):
        return conv(cin, cout, 3) + conv(cout, cout, 3)

    chans = [64, 128, 256, 512, 1024]
    total = double(1, 64)
    for a, b in zip(chans, chans[1:]):
        total += double(a, b)
    for a, b in zip(chans[::-1], chans[::-1][1:]):  # up: transposed conv a->b, concat -> 2b, double 2b->b
        total += conv(a, b, 2) + double(2 * b, b)
    total += conv(64, 2, 1)
    g = archc.infer("specs/unet.yaml")
    assert g.param_count == total == 31_030_658
    assert [c.text for c in g.constraints] == ["H % 16 == 0", "W % 16 == 0"]


def test_unet_h100_says_h_mod_16(capsys):
    with pytest.raises(archc.DiagnosticError) as e:
        archc.infer("specs/unet.yaml", {"H": 100})
    (d,) = [d for d in e.value.diagnostics if d.code == "ARC203"]
    assert "H = 100" in d.message and "H % 16 == 0" in d.message
    assert "96 and 112" in d.hint
    assert any("concat" in r.message for r in d.related)


def test_unet_output_keeps_input_size():
    import torch

    gm = archc.compile("specs/unet.yaml", {"H": 32, "W": 48, "base": 4})
    assert gm(torch.randn(1, 1, 32, 48)).shape == (1, 2, 32, 48)
