"""Every spec of the zoo builds and verifies in the default formats, at a small configuration
(its `small` variant, or small sizes); specs without one are slow-marked. New specs are picked up
automatically."""
from __future__ import annotations

import pytest

from tests.conftest import ZOO

SMALL = {
    "mlp": ({}, None),
    "resnet": ({"H": 48, "W": 48}, "resnet18"),
    "resnet18": ({"H": 48, "W": 48}, None),
    "resnet50": ({"H": 48, "W": 48}, None),
    "unet": ({"base": 4, "H": 32, "W": 32}, None),
}


def _small(path):
    if path.stem in SMALL:
        return SMALL[path.stem]
    text = path.read_text()
    if "\n  small:" in text:  # the zoo's convention: a `small` variant for tests
        return {}, "small"
    return None


def _too_big(path) -> bool:
    """Specs beyond the default parameter limit (gpt3_175b: 700 GB of fp32 weights) cannot be
    built with weights on this machine; they are profiled on the meta device instead."""
    import archc
    from archc.pipeline import DEFAULT_PARAM_LIMIT

    return archc.infer(path).param_count > DEFAULT_PARAM_LIMIT


def _params():
    for p in ZOO:
        cfg = _small(p)
        marks = () if cfg is not None else (pytest.mark.slow,)
        if cfg is None and _too_big(p):
            marks += (pytest.mark.skip(reason="over the default parameter limit; see specs/gpt3_175b.yaml's profile tests"),)
        yield pytest.param(p, cfg, id=p.stem, marks=marks)


@pytest.mark.parametrize("path,cfg", list(_params()))
def test_zoo_builds_and_verifies(export_build, path, cfg):
    overrides, variant = cfg if cfg is not None else ({}, None)
    from archc.export import FORMATS

    emit = FORMATS  # the same key as test_export_build's builds: each configuration is built once
    _, res = export_build(path.stem, str(path.relative_to(path.parent.parent)), overrides, variant, emit=emit)
    assert res.ok, [d for d in res.diagnostics if d.severity == "error"]
    for fmt, a in res.manifest["artifacts"].items():
        assert a["status"] == "verified", (fmt, a)


def test_gpt2_onnx_dynamic_batch_and_sequence(export_build, tmp_path):
    """GPT-2's ONNX model runs at two sequence lengths and two batch sizes, axes named B and T."""
    import onnx
    import pytest as _pytest

    spec = next((p for p in ZOO if p.stem == "gpt2"), None)
    if spec is None:
        _pytest.skip("specs/gpt2.yaml is not in the zoo yet")
    from archc.export import FORMATS

    out, res = export_build("gpt2", "specs/gpt2.yaml", {}, "small", emit=FORMATS)
    assert res.ok
    m = res.manifest
    assert m["symbols"]["B"]["dynamic"] and m["symbols"]["T"]["dynamic"]
    sizes = m["artifacts"]["onnx"]["sizes"]
    assert len({s["sizes"]["T"] for s in sizes}) == 2 and len({s["sizes"]["B"] for s in sizes}) == 2
    model = onnx.load(str(out / "model.onnx"))
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim] == ["B", "T"]
    # the tie is stored once and re-tied by the source
    assert "lm_head.weight" in (out / "model.py").read_text()


@pytest.mark.slow
def test_resnet50_full_size(tmp_path):
    from archc.api import build
    from archc.export import FORMATS

    res = build("specs/resnet50.yaml", str(tmp_path / "o"), emit=list(FORMATS), latency_runs=3)
    assert res.ok, [d for d in res.diagnostics if d.severity == "error"]
    for fmt, a in res.manifest["artifacts"].items():
        assert a["status"] == "verified", (fmt, a)
