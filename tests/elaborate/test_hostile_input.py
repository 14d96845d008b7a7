"""Input that used to reach exit 4: reserved node ids, `from: []`, sizes past int64. Each is a
located diagnostic, in `check` and in `lint` (which runs no torch)."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from archc.elaborate.reserved import RESERVED_NAMES, is_reserved

runner = CliRunner()

SPEC = """archc: 1
name: t
symbols: {{B: {{example: {B}}}}}
inputs: {{x: {{shape: [B, 8]}}}}
layers:
  - {id}: {{op: linear, out: {out}{extra}}}
outputs: {{y: {{from: {id}}}}}
"""


def _run(tmp_path, cmd, **kw):
    args = dict(B=2, id="fc", out=4, extra="")
    args.update(kw)
    p = tmp_path / "s.yaml"
    p.write_text(SPEC.format(**args))
    if cmd == "lint":
        return runner.invoke(app, ["lint", "--isolated", str(p)])
    return runner.invoke(app, [cmd, str(p)])


def test_the_reserved_names_cover_every_attribute_of_torchs_modules():
    torch = pytest.importorskip("torch")
    from archc.pipeline import Options, run

    gm = run("specs/mlp.yaml", Options(device="meta"), until="lower").module
    attrs = set(dir(torch.nn.Module())) | set(dir(gm)) | set(vars(gm)) | set(vars(torch.nn.Module()))

    def foreign(a: str) -> bool:  # patched onto nn.Module by another library this process imported
        mod = getattr(getattr(type(gm), a, None), "__module__", None) or ""
        return bool(mod) and not mod.startswith(("torch", "archc", "builtins")) and not a.startswith("__")

    # (transformers adds `smart_apply` to nn.Module when it builds a model: earlier tests in the
    # same worker do, and the list is of torch's own attributes)
    missing = sorted(a for a in attrs - set(gm._modules) if not is_reserved(a) and not foreign(a))
    assert not missing, f"add these to archc.elaborate.reserved.RESERVED_NAMES: {missing}"


def test_no_zoo_or_torchvision_name_is_reserved():
    for name in ("features", "classifier", "layer1", "fc", "head", "blocks", "encoder", "decoder", "conv1", "bn1",
                 "downsample", "embeddings", "attention", "output", "pooler", "transformer", "h", "ln_f", "wte"):
        assert name not in RESERVED_NAMES


@pytest.mark.parametrize("nid", ["forward", "training", "eval", "to", "cuda", "parameters", "state_dict", "code",
                                 "graph", "__class__", "_modules"])
@pytest.mark.parametrize("cmd", ["check", "lint"])
def test_a_node_id_named_like_a_module_attribute_is_a_diagnostic(tmp_path, nid, cmd):
    r = _run(tmp_path, cmd, id=nid)
    assert r.exit_code == 1, r.output
    assert "error[ARC102]" in r.output and f"`{nid}` cannot be a module name" in r.output
    assert "s.yaml:6:5" in r.output and "internal error" not in r.output


def test_a_repetition_named_like_a_module_attribute_is_a_diagnostic(tmp_path):
    r = _run(tmp_path, "check", extra=", repeat: 2, repeat_names: \"${'eval' if i == 1 else 'first'}\"", out=8)
    assert r.exit_code == 1, r.output
    assert "`fc.eval` cannot be a module name" in r.output


@pytest.mark.parametrize("extra", [", from: [], repeat: 2", ", from: [], when: false", ", from: []"])
@pytest.mark.parametrize("cmd", ["check", "lint"])
def test_from_an_empty_list_is_a_diagnostic(tmp_path, extra, cmd):
    r = _run(tmp_path, cmd, extra=extra)
    assert r.exit_code == 1, r.output
    assert "error[ARC102]" in r.output and "`fc` has `from: []`" in r.output and "internal error" not in r.output


@pytest.mark.parametrize("kw, says", [
    (dict(out=10**10, B=10**9), "output [B, 10000000000] cannot be allocated at the example sizes"),
    (dict(extra=", bias: false", out=2**62), "past the largest torch holds"),
    (dict(out=10**30), "`out` in `fc` (linear) is 100000...000 (31 digits)"),
    (dict(B=10**20), "B = 100,000,000,000,000,000,000 is past the largest size"),
    (dict(B=10**18), "input `x` cannot be allocated at its example sizes"),
])
@pytest.mark.parametrize("cmd", ["check", "lint"])
def test_sizes_past_int64_are_arc209(tmp_path, kw, says, cmd):
    r = _run(tmp_path, cmd, **kw)
    assert r.exit_code == 1, r.output
    assert "error[ARC209]" in r.output and says in r.output, r.output
    assert "Overflow" not in r.output and "internal error" not in r.output


@pytest.mark.parametrize("value, code", [("0", "ARC206"), ("-1", "ARC206"), ("10000000000000000000000", "ARC209")])
def test_an_input_size_from_an_expression_is_checked_like_a_literal(tmp_path, value, code):
    """`shape: [B, "${c}"]` with c = 0 reached the conv as in_channels=0 (ARC602 and a raw torch
    warning); c = -1 was exit 4."""
    p = tmp_path / "s.yaml"
    p.write_text('archc: 1\nname: t\nparams: {c: 3}\nsymbols: {B: {example: 2}}\n'
                 'inputs: {x: {shape: [B, "${c}", 8, 8]}}\nlayers:\n  - conv: {op: conv2d, out: 4, kernel: 3}\n'
                 'outputs: {y: {from: conv}}\n')
    r = runner.invoke(app, ["check", str(p), "--set", f"c={value}"])
    assert r.exit_code == 1, r.output
    assert f"error[{code}]" in r.output and "input `x` dim 1" in r.output and "s.yaml:5:25" in r.output
    assert "ARC602" not in r.output and "Warning" not in r.output and "internal error" not in r.output
