"""Adding an op is one file: a module that calls `archc.ops.register` with a cost rule and traits.

A throwaway plugin distribution is written here (one module, `archc_onefile_op.py`, plus a
pyproject naming it in the `archc.ops` entry-point group), installed with `pip install --target`
into a temporary directory, and every check runs in a subprocess whose PYTHONPATH holds it
(as tests/ops/test_plugins.py does). Nothing else is edited, yet the op reaches the JSON Schema,
`archc ops`, `archc profile` (counted by its rule), `archc graph` (its `picture` colour) and a
lint rule that reads traits. This process never imports the plugin.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OP = "onefile_dense"

MODULE = '''
"""op: onefile_dense: a fully connected layer on [B, in] -> [B, out], all in this one file."""
from typing import Sequence

from pydantic import Field

from archc.ir.types import TensorType
from archc.ops import Attrs, Cost, Traits, numel, register


class DenseAttrs(Attrs):
    out: int = Field(gt=0, description="output features")
    bias: bool = Field(True, description="add a learned bias")


def _in(ins: Sequence[TensorType]) -> int:
    return ins[0].shape[1]


def _infer(ctx, a: DenseAttrs, ins: Sequence[TensorType]) -> TensorType:
    return ins[0].with_shape((ins[0].shape[0], a.out))


def _params(a: DenseAttrs, ins: Sequence[TensorType]):
    p = {"weight": (a.out, _in(ins))}
    if a.bias:
        p["bias"] = (a.out,)
    return p


def _lower(a: DenseAttrs, ins: Sequence[TensorType], out: TensorType):
    import torch

    return torch.nn.Linear(_in(ins), a.out, bias=a.bias)


def _cost(node, ins: Sequence[TensorType], env) -> Cost:
    macs = numel(node.out, env) * _in(ins)
    return Cost(macs, 2 * macs + (numel(node.out, env) if node.attrs.bias else 0))


register(
    "onefile_dense",
    attrs=DenseAttrs,
    infer=_infer,
    params=_params,
    lower=_lower,
    family="experimental",
    doc="A dense layer registered by a one-file plugin.",
    shape_doc="[B, in] -> [B, out]",
    example="{op: onefile_dense, out: 8}",
    example_inputs=[(2, 4)],
    cost=_cost,
    traits=Traits(weighted=True, width="out", bias="bias", width_dim=-1, overwritable=True, init=True,
                  picture="recurrent"),
)
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "archc-onefile-op"
version = "0.1.0"
dependencies = ["archc"]

[project.entry-points."archc.ops"]
onefile_dense = "archc_onefile_op"

[tool.setuptools]
py-modules = ["archc_onefile_op"]
'''

SPEC = f'''
archc: 1
name: onefile
inputs:
  x: {{shape: [B, 16], dtype: float32}}
symbols:
  B: {{example: 4, min: 1}}
layers:
  - fc: {{op: {OP}, out: 24}}
  - bn: {{op: batch_norm}}
outputs:
  y: {{from: bn}}
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("onefile")
    src, site = tmp / "src", tmp / "site"
    src.mkdir()
    (src / "archc_onefile_op.py").write_text(MODULE.lstrip())
    (src / "pyproject.toml").write_text(PYPROJECT.lstrip())
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
           "--no-build-isolation", "--no-index", "--target", str(site), str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"pip install failed:\n{r.stdout}\n{r.stderr}"
    spec = tmp / "onefile.yaml"
    spec.write_text(SPEC.lstrip())
    return site, spec


def _run(args: list[str], site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(site)])
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=180)


def _ok(args: list[str], site: Path) -> str:
    r = _run(args, site)
    assert r.returncode == 0, f"{args} failed:\n{r.stdout}\n{r.stderr}"
    assert "warning" not in r.stderr.lower(), r.stderr
    return r.stdout


def test_the_plugin_is_not_loaded_here():
    from archc.ops import load_ops

    assert OP not in load_ops()


def test_json_schema_lists_the_op(site):
    out = _ok(["-c", "import json; from archc.spec.schema import json_schema; print(json.dumps(json_schema()))"], site[0])
    text = out.strip().splitlines()[-1]
    assert f'"{OP}"' in text
    assert "A dense layer registered by a one-file plugin." in text


def test_archc_ops_lists_the_op(site):
    entry = json.loads(_ok(["-m", "archc", "ops", OP, "--json"], site[0]))["op"]
    assert entry["name"] == OP and entry["plugin"] is True and entry["family"] == "experimental"
    assert {a["name"] for a in entry["attributes"]} == {"out", "bias"}
    assert OP in _ok(["-m", "archc", "ops"], site[0])


def test_profile_counts_the_op_by_its_rule(site):
    doc = json.loads(_ok(["-m", "archc", "profile", str(site[1]), "--json"], site[0]))
    assert doc["uncounted"] == []
    (fc,) = [n for n in doc["nodes"] if n["op"] == OP]
    macs = 4 * 24 * 16                               # B * out * in
    assert fc["macs"] == macs and fc["flops"] == 2 * macs + 4 * 24   # + bias per output element
    assert fc["params"] == 24 * 16 + 24


def test_graph_colours_the_op_by_its_picture(site):
    from archc.draw.dot import FAMILY_COLORS, family_color

    dot = _ok(["-m", "archc", "graph", str(site[1]), "--format", "dot"], site[0])
    assert family_color("experimental") != FAMILY_COLORS["recurrent"]
    assert f'"fc" [label="fc\\n{OP} out=24", fillcolor="{FAMILY_COLORS["recurrent"]}"' in dot, dot


def test_compiled_module_and_init(site):
    """The module runs, and `init:` (the `init` trait) reaches the op's weight."""
    code = f"""
        import json, archc, torch
        text = open({str(site[1])!r}).read().replace("layers:", "init: {{scheme: normal, std: 0.5, bias: zeros}}\\nlayers:", 1)
        open({str(site[1].with_name('init.yaml'))!r}, "w").write(text)
        gm = archc.compile({str(site[1].with_name('init.yaml'))!r})
        y = gm(torch.randn(4, 16))
        sd = gm.state_dict()
        print(json.dumps({{"shape": list(y.shape), "std": float(sd["fc.weight"].std()), "bias": float(sd["fc.bias"].abs().max())}}))
    """
    doc = json.loads(_ok(["-c", textwrap.dedent(code)], site[0]).strip().splitlines()[-1])
    assert doc["shape"] == [4, 24]
    assert 0.4 < doc["std"] < 0.6 and doc["bias"] == 0.0   # torch's default: U(+-1/4), std 0.14


def test_lint_rule_reading_traits_fires_on_the_op(site):
    """ARC304 bias-before-batch-norm reads `traits.bias` (and `width_dim`), so a biased plugin
    layer feeding batch norm is flagged; with `bias: false` it is not."""

    r = _run(["-m", "archc", "lint", str(site[1]), "-f", "json"], site[0])
    doc = json.loads(r.stdout)
    assert doc["internal_errors"] == [] and doc["summary"]["errors"] == 0, r.stdout + r.stderr
    r = _run(["-m", "archc", "lint", str(site[1]), "-f", "json", "--select", "ARC304"], site[0])
    codes = [d["code"] for f in json.loads(r.stdout)["files"] for d in f["diagnostics"]]
    assert codes == ["ARC304"], r.stdout + r.stderr
    unbiased = site[1].with_name("unbiased.yaml")
    unbiased.write_text(site[1].read_text().replace("out: 24}", "out: 24, bias: false}"))
    r = _run(["-m", "archc", "lint", str(unbiased), "-f", "json", "--select", "ARC304"], site[0])
    assert [d for f in json.loads(r.stdout)["files"] for d in f["diagnostics"]] == [], r.stdout
