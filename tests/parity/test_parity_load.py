"""`--weights` / `archc.compile(weights=...)`: safetensors and torch files, mapping, ARC603 diagnostics."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import archc
from archc.cli.main import app
from archc.diagnostics import DiagnosticError

torch = pytest.importorskip("torch")
runner = CliRunner()
SMALL = {"H": 64, "W": 64, "B": 1}
SMALL_SETS = ["--set", "H=64", "--set", "W=64", "--set", "B=1"]


@pytest.fixture(scope="module")
def tv_resnet18():
    tv = pytest.importorskip("torchvision")
    torch.manual_seed(1)
    return tv.models.resnet18().eval()


def _out(m, x):
    with torch.no_grad():
        return m(x)


def test_safetensors_file_reproduces_torchvision(tmp_path, tv_resnet18):
    st = pytest.importorskip("safetensors.torch")
    path = tmp_path / "r18.safetensors"
    st.save_file(tv_resnet18.state_dict(), str(path))
    gm = archc.compile("specs/resnet18.yaml", SMALL, weights=path)
    x = torch.randn(1, 3, 64, 64)
    assert (_out(gm, x) - _out(tv_resnet18, x)).abs().max().item() < 1e-5
    r = runner.invoke(app, ["check", "specs/resnet18.yaml", *SMALL_SETS, "--weights", str(path), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["weights"] == str(path)


@pytest.mark.parametrize("wrap", [None, "state_dict", "model"])
def test_torch_file_reproduces_torchvision(tmp_path, tv_resnet18, wrap):
    path = tmp_path / "r18.pt"
    sd = tv_resnet18.state_dict()
    torch.save(sd if wrap is None else {wrap: sd, "epoch": 3}, path)
    gm = archc.compile("specs/resnet18.yaml", SMALL, weights=str(path))
    x = torch.randn(1, 3, 64, 64)
    assert (_out(gm, x) - _out(tv_resnet18, x)).abs().max().item() < 1e-5


def test_wrong_shape_names_both_sides(tmp_path):
    tv = pytest.importorskip("torchvision")
    path = tmp_path / "r18_10.pt"
    torch.save(tv.models.resnet18(num_classes=10).state_dict(), path)
    with pytest.raises(DiagnosticError) as e:
        archc.compile("specs/resnet18.yaml", SMALL, weights=path)
    msgs = [(d.code, d.message) for d in e.value.diagnostics]
    assert ("ARC603", "`fc.weight`: file has [10, 512], spec has [1000, 512]") in msgs
    assert ("ARC603", "`fc.bias`: file has [10], spec has [1000]") in msgs
    r = runner.invoke(app, ["check", "specs/resnet18.yaml", *SMALL_SETS, "--weights", str(path)])
    assert r.exit_code == 1
    assert "error[ARC603]" in r.output and "`fc.weight`: file has [10, 512], spec has [1000, 512]" in r.output


def test_missing_and_extra_keys_with_did_you_mean(tmp_path, tv_resnet18):
    sd = dict(tv_resnet18.state_dict())
    sd["fc.weights"] = sd.pop("fc.weight")
    path = tmp_path / "renamed.pt"
    torch.save(sd, path)
    with pytest.raises(DiagnosticError) as e:
        archc.compile("specs/resnet18.yaml", SMALL, weights=path)
    by_msg = {d.message: d for d in e.value.diagnostics}
    assert "spec key `fc.weight` has no value in the file" in by_msg
    d = by_msg["file key `fc.weights` matches nothing in the spec"]
    assert d.code == "ARC603" and d.hint == "did you mean `fc.weight`?"


def test_pickled_module_is_refused(tmp_path, tv_resnet18):
    path = tmp_path / "module.pt"
    torch.save(tv_resnet18, path)       # a whole module: needs unpickling arbitrary objects
    with pytest.raises(DiagnosticError) as e:
        archc.compile("specs/resnet18.yaml", SMALL, weights=path)
    (d,) = e.value.diagnostics
    assert d.code == "ARC603" and "weights_only" in d.hint


def test_missing_file(tmp_path):
    with pytest.raises(DiagnosticError) as e:
        archc.compile("specs/mlp.yaml", weights=tmp_path / "nope.safetensors")
    assert "does not exist" in e.value.diagnostics[0].message


def test_reference_keyed_file_is_mapped(tmp_path, tiny_spec, tiny_reference):
    ref = tiny_reference().eval()
    path = tmp_path / "tiny_ref.pt"
    torch.save(ref.state_dict(), path)
    gm = archc.compile(tiny_spec.path, weights=path)
    x = torch.randn(3, 8)
    assert (_out(gm, x) - _out(ref, x)["out"]).abs().max().item() < 1e-6


def test_tied_key_missing_from_file_is_filled(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    spec = tmp_path / "tied.yaml"
    spec.write_text(
        "archc: 1\nname: tied\nsymbols: {B: {example: 2}}\ninputs: {x: {shape: [B, 8]}}\n"
        "layers:\n  - a: {op: linear, out: 8}\n  - b: {op: linear, out: 8}\n"
        "outputs: {y: b}\nties:\n  - {param: b.weight, to: a.weight}\n")
    src = archc.compile(spec)
    path = tmp_path / "tied.safetensors"
    st.save_model(src, str(path))          # safetensors drops one of two shared tensors
    gm = archc.compile(spec, weights=path)
    assert gm.get_parameter("b.weight") is gm.get_parameter("a.weight")
    assert torch.equal(gm.get_parameter("b.weight"), src.get_parameter("a.weight"))


def test_reference_layout_with_the_spec_keys_is_transposed(tmp_path):
    # GPT-2 style: the spec's keys are the reference's, but the reference stores fc.weight as [in, out]
    spec = tmp_path / "t.yaml"
    spec.write_text(
        "archc: 1\nname: t\nsymbols: {B: {example: 2}}\ninputs: {x: {shape: [B, 6]}}\n"
        "layers:\n  - fc: {op: linear, out: 5}\n  - sq: {op: linear, out: 5}\noutputs: {y: sq}\n"
        "reference:\n  weights: {transpose: ['fc.weight', 'sq.weight']}\n")
    w, sq = torch.randn(5, 6), torch.randn(5, 5)
    b = torch.randn(5)
    spec_layout = {"fc.weight": w, "fc.bias": b, "sq.weight": sq, "sq.bias": b}
    ref_layout = {"fc.weight": w.t().contiguous(), "fc.bias": b, "sq.weight": sq.t().contiguous(), "sq.bias": b}
    for name, sd in (("spec", spec_layout), ("ref", ref_layout)):
        path = tmp_path / f"{name}.pt"
        torch.save(sd, path)
        gm = archc.compile(spec, weights=path)
        assert torch.equal(gm.get_parameter("fc.weight"), w), name
        assert torch.equal(gm.get_parameter("sq.weight"), sq), name   # square: follows the file's layout
