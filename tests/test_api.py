"""The Python API for notebooks (archc.api): every command as a function returning a displayable
result, specs as mappings, DiagnosticError rendered with locations, the module's mode, block-named
containers and weights saved from training wrappers."""
from __future__ import annotations

import pytest
import torch

import archc
from archc.errors import DiagnosticError, UsageError
from tests.conftest import ROOT

MLP = str(ROOT / "specs" / "mlp.yaml")
TINY = {"archc": 1, "name": "tiny", "symbols": {"B": {"example": 2}}, "inputs": {"x": {"shape": ["B", 8]}},
        "blocks": {"dense": {"params": {"width": "int"}, "layers": [{"fc": {"op": "linear", "out": "${width}"}},
                                                                    {"act": {"op": "relu"}}]}},
        "layers": [{"body": {"block": "dense", "repeat": 2, "args": {"width": 16}}},
                   {"drop": {"op": "dropout", "p": 0.5}}, {"head": {"op": "linear", "out": 3}}]}


def test_dir_and_all_name_every_command():
    for name in ("check", "lint", "profile", "graph", "compare", "build", "compile", "infer", "load_spec",
                 "DiagnosticError", "__version__"):
        assert name in archc.__all__ and name in dir(archc)
        assert getattr(archc, name) is not None
    assert "_errors" not in dir(archc)


def test_a_spec_as_a_mapping_compiles_and_its_mistakes_are_located():
    m = archc.compile(TINY)
    assert m(torch.randn(2, 8)).shape == (2, 3)
    bad = {**TINY, "layers": [{"head": {"op": "linaer", "out": 3}}]}
    with pytest.raises(DiagnosticError) as e:
        archc.compile(bad)
    text = str(e.value)
    assert "error[ARC113]" in text and "<mapping>.yaml:" in text and "linaer" in text and "^" in text
    assert "did you mean `linear`" in text


def test_a_missing_file_and_a_wrong_type_raise_diagnostic_error():
    with pytest.raises(DiagnosticError, match=r"ARC007.*no such file") as e:
        archc.check("no/such/spec.yaml")
    assert "no/such/spec.yaml:1:1" in str(e.value)
    with pytest.raises(DiagnosticError, match="not int"):
        archc.compile(42)
    with pytest.raises(DiagnosticError, match="a folder"):
        archc.infer(str(ROOT / "specs"))


def test_compile_mode():
    assert not archc.compile(TINY).training                   # the default: eval, as the README says
    m = archc.compile(TINY, mode="train")
    assert m.training and all(s.training for s in m.modules())
    torch.manual_seed(0)
    x = torch.ones(2, 8)
    assert not torch.equal(m(x), m(x))                        # dropout is on in train mode
    with pytest.raises(UsageError):
        archc.compile(TINY, mode="training")


def test_containers_print_as_their_blocks():
    m = archc.compile(TINY, device="meta")
    assert type(m.body).__name__ == "Repeat" and type(getattr(m.body, "0")).__name__ == "Dense"
    assert "(0): Dense(" in str(m) and "Module(" not in str(m)
    r18 = archc.compile(str(ROOT / "specs" / "resnet18.yaml"), device="meta")
    assert type(r18.layer1).__name__ == "Repeat" and type(getattr(r18.layer1, "0")).__name__ == "Basic"
    assert type(getattr(r18.layer1, "0")) is type(getattr(r18.layer1, "1"))   # one class per block


def test_a_ddp_or_compiled_checkpoint_loads(tmp_path):
    m = archc.compile(TINY)
    sd = {f"module._orig_mod.{k}": v + 1 for k, v in m.state_dict().items()}
    path = tmp_path / "ddp.pt"
    torch.save(sd, path)
    got = archc.compile(TINY, weights=str(path))
    assert all(torch.equal(got.state_dict()[k], v + 1) for k, v in m.state_dict().items())


def test_check_returns_a_report_that_prints_and_displays():
    r = archc.check(MLP)
    assert r.ok and r.doc["params"] == 269_322 and r["verified"] is True
    assert "hidden.0.fc" in str(r) and "269,322 parameters" in str(r)
    assert r._repr_html_().startswith("<pre") and "hidden.0.fc" in r._repr_html_()
    assert repr(r) == "<archc check report: ok>"
    from rich.console import Console

    con = Console(record=True, width=120, file=open("/dev/null", "w"))
    con.print(r)
    assert "hidden.0.fc" in con.export_text()


def test_lint_profile_graph_compare_as_functions(tmp_path):
    lr = archc.lint(MLP)
    assert lr.ok and lr.doc["summary"]["files"] == 1 and "1 file linted" in str(lr)
    p = archc.profile(MLP)
    assert p.ok and p.doc["params"] == 269_322 and "hidden.0.fc" in str(p)
    pic = archc.graph(MLP, format="mermaid")
    assert pic.format == "mermaid" and pic._repr_markdown_().startswith("```mermaid") and "head" in str(pic)
    pic.save(str(tmp_path / "g.mmd"))
    assert (tmp_path / "g.mmd").read_bytes() == pic.data
    dot = archc.graph(TINY, format="dot")
    assert b"digraph" in dot.data
    pytest.importorskip("torchvision")
    c = archc.compare(str(ROOT / "specs" / "resnet18.yaml"), overrides={"H": 32, "W": 32}, seeds=1, train=False)
    assert c.ok and c.doc["params"] == c.doc["reference_params"] and "PASS" in str(c)


def test_lint_and_profile_stay_callable_after_their_packages_are_imported():
    import archc.lint
    import archc.profile.static  # noqa: F401

    assert archc.lint(MLP).ok and archc.profile(MLP).doc["params"] == 269_322
    assert archc.lint.RULES and archc.profile.analyze      # still the packages
