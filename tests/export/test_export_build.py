"""`archc build`: every format of mlp, resnet18 and unet builds and verifies; the manifest; the
output folder's rules; exit codes."""
from __future__ import annotations

import json
import os
import re

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from archc.export import FORMATS
from archc.export.atomic import owned
from archc.export.manifest import sha256_file

runner = CliRunner()
SMALL_RESNET = {"H": 48, "W": 48}


def _ok(res):
    errors = [d for d in res.diagnostics if d.severity == "error"]
    assert res.ok, errors


@pytest.mark.parametrize("name,spec,overrides", [
    ("mlp", "specs/mlp.yaml", {}),
    ("resnet18", "specs/resnet18.yaml", SMALL_RESNET),
    ("unet", "specs/unet.yaml", {"base": 4, "H": 32, "W": 32}),
])
def test_every_format_builds_and_verifies(export_build, name, spec, overrides):
    out, res = export_build(name, spec, overrides)
    _ok(res)
    m = res.manifest
    assert list(m["artifacts"]) == list(FORMATS)
    for fmt, a in m["artifacts"].items():
        assert a["status"] == "verified", (fmt, a)
        assert len(a["sizes"]) == 2 and all(s["ok"] for s in a["sizes"]), (fmt, a["sizes"])
        assert a["max_abs_diff"] is not None and a["max_abs_diff"] <= 1e-4 * 10, fmt
        for f in a["files"]:
            assert (out / f).is_file()
        assert a["size_bytes"] > 0 and a["export_seconds"] >= 0 and a["latency_ms"] > 0
    # the two verification sizes differ in every dynamic symbol
    first, second = m["verification_sizes"]
    for sym, p in m["symbols"].items():
        if p["dynamic"]:
            assert first[sym] != second[sym]
    assert m["artifacts"]["source"]["bitwise_equal"] is True
    assert m["artifacts"]["torchscript"]["exporter"] == "torch.jit.script"
    assert m["artifacts"]["onnx"]["checker"].endswith("passed")
    assert set(os.listdir(out)) <= owned()  # no staging left behind
    assert json.loads((out / "manifest.json").read_text()) == json.loads(json.dumps(m, default=str))


def test_manifest_document(mlp_build):
    out, res = mlp_build
    m = res.manifest
    assert m["spec"]["sha256"] == sha256_file("specs/mlp.yaml")
    assert m["parameter_count"] == 269_322
    assert m["params"]["hidden"] == 256
    assert {"torch", "onnx", "onnxruntime", "onnxscript", "safetensors", "python"} <= set(m["versions"])
    assert m["archc"]
    assert m["inputs"]["x"] == {"shape": ["B", 784], "dtype": "float32", "dynamic_axes": {0: "B"}}
    assert m["outputs"]["logits"]["shape"] == ["B", 10]
    assert m["symbols"]["B"]["dynamic"] and m["symbols"]["B"]["range"] == [1, None]
    assert m["verification_sizes"] == [{"B": 4}, {"B": 5}]
    assert m["tolerance"] == {"atol": 1e-6, "rtol": 1e-4, "judged": "max|a - b| <= atol + rtol * max|eager|", "floor": 1e-3}
    assert m["verification_weights"] == {"weights": "randomized", "seed": 0, "batch_norm_statistics": "none"}
    ts = m["artifacts"]["torchscript"]
    assert ts["deprecated_upstream"] and any("deprecated" in n for n in ts["notes"])
    assert m["artifacts"]["onnx"]["opset"] == 18


def test_unet_dynamic_dims_are_derived(unet_build):
    out, res = unet_build
    _ok(res)
    s = res.manifest["symbols"]
    assert s["H"]["dynamic"] and s["H"]["step"] == 16 and s["H"]["range"][0] == 16
    assert res.manifest["verification_sizes"] == [{"B": 1, "H": 32, "W": 32}, {"B": 3, "H": 48, "W": 48}]
    assert s["B"]["export_size"] == 2  # an example of 1 would be specialised: traced at 2


def test_onnx_axes_named_after_symbols(unet_build):
    import onnx

    out, _ = unet_build
    m = onnx.load(str(out / "model.onnx"))
    (inp,) = m.graph.input
    assert inp.name == "image"
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["B", 1, "H", "W"]
    (o,) = m.graph.output
    assert o.name == "mask"
    assert [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] == ["B", 2, "H", "W"]


def test_resnet_range_narrowed_is_reported(export_build):
    _, res = export_build("resnet18", "specs/resnet18.yaml", SMALL_RESNET)
    (d,) = [d for d in res.diagnostics if d.code == "ARC512" and "`H`" in d.message]
    assert d.severity == "warning" and "H >= 33" in d.message and d.span.file == "specs/resnet.yaml"
    assert res.manifest["symbols"]["H"]["range"][0] == 33


def test_source_is_standalone_and_readable(mlp_build, unet_build):
    for out, _ in (mlp_build, unet_build):
        text = (out / "model.py").read_text()
        assert "archc" not in "".join(l for l in text.splitlines() if l.startswith(("import", "from")))
        assert not re.search(r"^\s*(import|from) archc", text, re.M)
    text = (unet_build[0] / "model.py").read_text()
    assert "self.down2.conv.conv1(" in text
    assert "# (B, 16, H//4, W//4)" in text


def test_source_reproduces_bitwise(unet_build):
    import torch

    import archc
    from archc.export.formats.source import import_file
    from archc.export.verify import make_inputs

    out, _ = unet_build
    gm = archc.compile("specs/unet.yaml", {"base": 4, "H": 32, "W": 32})
    mod = import_file(str(out / "model.py"))
    model = mod.load()
    ins = make_inputs(gm.archc_graph, {"B": 2, "H": 64, "W": 48}, "float32")
    with torch.no_grad():
        assert torch.equal(model(*ins.values()), gm(*ins.values()))


def test_refuses_non_empty_dir_without_force(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path), "--emit", "state_dict"])
    assert r.exit_code == 2, r.output
    assert "--force" in r.output


def test_force_replaces_only_archc_outputs(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "model.pt2").write_text("stale archc output")
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path), "--emit", "state_dict", "--force", "--json"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "model.pt2").exists()  # an archc output this build does not produce
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "model.safetensors", "notes.txt"]
    doc = json.loads(r.stdout)
    assert doc["artifacts"]["state_dict"]["status"] == "verified"


def test_failed_verification_writes_nothing(tmp_path, monkeypatch):
    from archc.api import build
    from archc.export.formats.source import SourceRunner

    orig = SourceRunner.run
    monkeypatch.setattr(SourceRunner, "run", lambda self, ins: [t + 1 for t in orig(self, ins)])
    res = build("specs/mlp.yaml", str(tmp_path / "o"), emit=["source"], latency_runs=1)
    assert not res.ok
    (d,) = [d for d in res.diagnostics if d.code == "ARC621"]
    assert not (tmp_path / "o").exists()   # the folder it created is removed again


def test_interrupted_build_writes_nothing(tmp_path, monkeypatch):
    from archc.api import build
    from archc.export.formats import state_dict as sdf

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(sdf, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        build("specs/mlp.yaml", str(tmp_path / "o"), emit=["state_dict"], latency_runs=1)
    assert not (tmp_path / "o").exists()   # the folder it created is removed again


def test_missing_extra_exits_3(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path / "o"), "--emit", "onnx"])
    assert r.exit_code == 3, r.output
    assert "pip install 'archc-compiler[export]'" in r.output and "onnxruntime" in r.output


@pytest.mark.parametrize("args,needle", [
    (["--emit", "tflite"], "unknown format"),
    (["--dynamic", "Q"], "not a symbol"),
    (["--dtype", "int8"], "--dtype"),
    (["--opset", "11"], "--opset"),
])
def test_usage_errors_exit_2(tmp_path, args, needle):
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path / "o"), *args])
    assert r.exit_code == 2, r.output
    assert needle in r.output


def test_torchscript_note_is_one_line(tmp_path):
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path / "o"), "--emit", "torchscript"])
    assert r.exit_code == 0, r.output
    lines = [l for l in r.stderr.splitlines() if "TorchScript" in l or "deprecated" in l.lower()]
    assert len(lines) == 1 and lines[0].startswith("note: TorchScript is deprecated upstream; archc still emits it because")
    assert "FutureWarning" not in r.stderr


def test_static_when_dynamic_none(export_build):
    _, res = export_build("mlp-static", "specs/mlp.yaml", None, None, emit=["pt2"], dynamic=[])
    _ok(res)
    assert res.manifest["symbols"]["B"]["dynamic"] is False
    assert res.manifest["verification_sizes"] == [{"B": 4}]


def test_float16_build(export_build):
    _, res = export_build("mlp-fp16", "specs/mlp.yaml", None, None, emit=["pt2", "onnx", "source"], dtype="float16")
    _ok(res)
    m = res.manifest
    assert (m["tolerance"]["atol"], m["tolerance"]["rtol"]) == (1e-4, 1e-2)
    for fmt, a in m["artifacts"].items():
        assert a["status"] in ("verified", "unverified"), (fmt, a)


def test_bfloat16_onnx_is_unverified_not_verified(export_build):
    _, res = export_build("mlp-bf16", "specs/mlp.yaml", None, None, emit=["onnx"], dtype="bfloat16")
    a = res.manifest["artifacts"]["onnx"]
    assert a["status"] == "unverified" and a["reason"]
    assert any(d.code == "ARC514" and d.severity == "warning" for d in res.diagnostics)
    assert res.ok


def test_weights_roundtrip_and_mismatch(mlp_build, tmp_path):
    from safetensors.torch import load_file, save_file

    from archc.api import build

    out, _ = mlp_build
    sd = load_file(str(out / "model.safetensors"))
    sd = {k: v * 2 if v.is_floating_point() else v for k, v in sd.items()}
    save_file(sd, str(tmp_path / "w.safetensors"))
    res = build("specs/mlp.yaml", str(tmp_path / "a"), emit=["state_dict"], weights=str(tmp_path / "w.safetensors"), latency_runs=1)
    _ok(res)
    again = load_file(str(tmp_path / "a" / "model.safetensors"))
    assert all(bool((again[k] == sd[k]).all()) for k in sd)
    del sd["head.bias"]
    save_file(sd, str(tmp_path / "bad.safetensors"))
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path / "b"), "--emit", "state_dict",
                            "--weights", str(tmp_path / "bad.safetensors")])
    assert r.exit_code == 1, r.output
    assert "ARC603" in r.stderr and "head.bias" in r.stderr
