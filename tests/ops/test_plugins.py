"""Third-party ops through the `archc.ops` entry-point group.

`tests/plugin_pkg` is a tiny installable package (`archc-plugin-example`) whose entry point registers
the op `swiglu`. It is installed with pip into a temporary directory (`--target`: a dist-info with its
entry points, no copy of torch), and every check that needs it runs in a subprocess whose PYTHONPATH
holds that directory, so `importlib.metadata` discovers the plugin exactly as it would in a venv.
This process never sees the plugin: the registry-parametrized op tests run without it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "tests" / "plugin_pkg"
SPEC = PKG / "specs" / "swiglu_mlp.yaml"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """`pip install --target` of tests/plugin_pkg (built from a copy, so the source tree stays clean)."""
    tmp = tmp_path_factory.mktemp("plugin")
    src, site = tmp / "src", tmp / "site"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    # offline and fast: no dependency resolution (archc and torch are already here), setuptools from this env
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
           "--no-build-isolation", "--no-index", "--target", str(site), str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"pip install failed:\n{r.stdout}\n{r.stderr}"
    assert (site / "archc_plugin_example-0.1.0.dist-info" / "entry_points.txt").is_file()
    return site


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    """A second installed distribution whose two `archc.ops` entry points fail: one module raises on
    import, the other does not exist. (Written by hand: a dist-info is all importlib.metadata reads.)"""
    site = tmp_path_factory.mktemp("broken")
    (site / "archc_plugin_broken.py").write_text('raise RuntimeError("boom: this plugin is broken")\n')
    info = site / "archc_plugin_broken-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: archc-plugin-broken\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        "[archc.ops]\nbroken = archc_plugin_broken\nmissing = archc_plugin_no_such_module\n")
    return site


def _env(*paths: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(args: list[str], *paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=_env(*paths),
                          timeout=120)


def _python(code: str, *paths: Path) -> dict:
    """Run `code` in a fresh interpreter that sees `paths`; it prints one JSON document last."""
    r = _run(["-c", textwrap.dedent(code)], *paths)
    assert r.returncode == 0, f"subprocess failed:\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_plugin_op_is_registered_like_builtins_and_compiles(plugin_site):
    doc = _python(f"""
        import json, sys
        from importlib import metadata

        import torch
        from torch import nn

        import archc
        from archc.codegen.verify import example_inputs
        from archc.ops import OPS, OpDef, load_ops
        from archc.ops._plugins import PLUGIN_ERRORS
        from archc.report.ops import is_plugin

        eps = {{ep.name: ep.value for ep in metadata.entry_points(group="archc.ops")}}
        load_ops()
        op, builtin = OPS["swiglu"], OPS["linear"]
        assert isinstance(op, OpDef) and type(op) is type(builtin)
        # every field a built-in declares, the plugin declares too (schema, shape rule, params, lowering, doc)
        missing = [f for f in ("attrs", "infer", "lower", "params", "doc", "shape_doc", "lowers_to", "family",
                               "example", "example_inputs") if not getattr(op, f)]

        # the registry-test recipe on the op's own example
        from archc.ir.types import TensorType
        import yaml
        ex = yaml.safe_load(op.example); ex.pop("op")
        attrs = op.attrs.model_validate(ex)
        in_types = [TensorType(tuple(s)) for s in op.example_inputs]
        out_t = op.infer(None, attrs, in_types)
        mod = op.lower(attrs, in_types, out_t)
        y = mod(*[torch.randn(s) for s in op.example_inputs])
        declared = {{k: list(v) for k, v in op.params(attrs, in_types).items()}}
        actual = {{k: list(p.shape) for k, p in mod.named_parameters()}}

        # a spec that uses the op, compiled and run
        gm = archc.compile({str(SPEC)!r})
        x = example_inputs(gm.archc_graph)
        with torch.no_grad():
            logits = gm(*x.values())
            # the same computation by hand, from the module's own weights
            h = x["x"]
            for i in range(2):
                blk = gm.layers.get_submodule(str(i))
                n = blk.norm(h)
                m = blk.mlp
                h = h + (torch.nn.functional.silu(n @ m.w1.weight.T) * (n @ m.w3.weight.T)) @ m.w2.weight.T
            manual = gm.head(h)
        print(json.dumps({{
            "eps": eps, "errors": PLUGIN_ERRORS, "missing": missing, "plugin": is_plugin(op),
            "builtin_plugin": is_plugin(builtin), "family": op.family, "example_out": list(y.shape),
            "inferred_out": list(out_t.shape), "declared": declared, "actual": actual,
            "logits": list(logits.shape), "diff": (logits - manual).abs().max().item(),
            "keys": sorted(k for k in gm.state_dict() if ".mlp." in k),
            "plugin_module": type(gm.layers.get_submodule("0").mlp).__module__,
        }}))
    """, plugin_site)
    assert doc["eps"] == {"swiglu": "archc_plugin_example.ops"}
    assert doc["errors"] == []
    assert doc["missing"] == []
    assert doc["plugin"] is True and doc["builtin_plugin"] is False
    assert doc["family"] == "mlp"
    assert doc["example_out"] == doc["inferred_out"] == [2, 5, 16]
    assert doc["declared"] == doc["actual"] == {"w1.weight": [32, 16], "w2.weight": [16, 32], "w3.weight": [32, 16]}
    assert doc["logits"] == [2, 7, 10]
    assert doc["diff"] < 1e-5
    assert doc["keys"] == [f"layers.{i}.mlp.{w}.weight" for i in range(2) for w in ("w1", "w2", "w3")]
    assert doc["plugin_module"] == "archc_plugin_example._modules"


def test_registry_tests_cover_the_plugin(plugin_site):
    """tests/ops/test_ops.py parametrizes over the registry: with the plugin installed it tests swiglu too."""
    r = _run(["-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:xdist", "tests/ops/test_ops.py", "-k", "swiglu"],
             plugin_site)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 passed" in r.stdout, r.stdout


def test_cli_lists_and_checks_the_plugin_op(plugin_site):
    r = _run(["-m", "archc", "ops", "swiglu", "--json"], plugin_site)
    assert r.returncode == 0, r.stderr
    entry = json.loads(r.stdout)["op"]
    assert entry["name"] == "swiglu" and entry["plugin"] is True and entry["family"] == "mlp"
    assert {a["name"] for a in entry["attributes"]} == {"hidden", "out", "bias"}
    assert entry["example_outputs"]

    r = _run(["-m", "archc", "ops"], plugin_site)
    assert r.returncode == 0 and "swiglu (plugin)" in r.stdout, r.stdout + r.stderr

    r = _run(["-m", "archc", "check", str(SPEC.relative_to(ROOT)), "--json"], plugin_site)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in r.stderr
    assert json.dumps(json.loads(r.stdout)).count('"swiglu"') >= 2


def test_profile_counts_the_plugin_op_with_its_cost_rule(plugin_site):
    """`archc profile --json` counts swiglu by the plugin's `cost=` rule: nothing is uncounted, and
    each swiglu node has the convention's numbers (three linears, silu 5 + gating mul 1 per hidden
    element), worked out here from the spec's sizes."""
    r = _run(["-m", "archc", "profile", str(SPEC.relative_to(ROOT)), "--json"], plugin_site)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["uncounted"] == []
    tokens, dim, hidden = 2 * 7, 32, 88                          # B, T; params dim, hidden (out = dim, no bias)
    macs = tokens * (dim * hidden + dim * hidden + hidden * dim)  # w1, w3: dim -> hidden; w2: hidden -> dim
    flops = 2 * macs + tokens * hidden * (5 + 1)
    swiglu = [n for n in doc["nodes"] if n["op"] == "swiglu"]
    assert [n["id"] for n in swiglu] == ["layers.0.mlp", "layers.1.mlp"]
    assert all(n["macs"] == macs and n["flops"] == flops for n in swiglu), swiglu
    assert doc["macs"] == sum(n["macs"] for n in doc["nodes"]) == 2 * macs + tokens * dim * 10  # + head


def test_plugin_traits_reach_codegen_and_pictures(plugin_site):
    """The plugin's traits are read like a built-in's: `init=True` puts its three Linear weights
    under the spec's `init: normal, std 0.02, bias: zeros`, and `picture` colours its box."""
    doc = _python(f"""
        import json
        import archc
        from archc.draw import build_view, to_dot
        from archc.draw.dot import family_color
        from archc.ops import OPS

        gm = archc.compile({str(SPEC)!r})
        sd = gm.state_dict()
        w = [sd[f"layers.0.mlp.w{{k}}.weight"] for k in (1, 2, 3)]
        dot = to_dot(build_view(archc.infer({str(SPEC)!r}), ["all"]))
        print(json.dumps({{"std": [float(t.std()) for t in w], "traits": [OPS["swiglu"].traits.weighted,
                          OPS["swiglu"].traits.init, OPS["swiglu"].traits.picture],
                          "colour": family_color("gated-mlp"), "family_colour": family_color("mlp"),
                          "dot": dot}}))
    """, plugin_site)
    assert doc["traits"] == [True, True, "gated-mlp"]
    # torch's Linear default is U(-1/sqrt(fan_in), +): std 0.10 (fan_in 32) and 0.06 (88), far from 0.02
    assert all(0.015 < s < 0.025 for s in doc["std"]), doc["std"]
    assert doc["colour"] != doc["family_colour"]                  # its family "mlp" gets another colour
    assert f'"layers.0.mlp" [label="mlp\\nswiglu", fillcolor="{doc["colour"]}"' in doc["dot"]


def test_broken_plugin_warns_and_others_still_load(plugin_site, broken_site):
    r = _run(["-m", "archc", "check", str(SPEC.relative_to(ROOT))], broken_site, plugin_site)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert "warning: plugin 'broken' failed to load: boom: this plugin is broken" in r.stderr
    assert "warning: plugin 'missing' failed to load" in r.stderr
    assert "swiglu" in r.stdout and "shapes verified" in r.stdout


def test_broken_entry_point_in_process(monkeypatch, capsys):
    """The loader itself: an entry point whose load() raises becomes a warning and a recorded error."""
    from archc.ops import _plugins

    class BadEntryPoint:
        name, value = "bad", "archc_plugin_bad:ops"

        def load(self):
            raise ImportError("No module named 'archc_plugin_bad'")

    errors: list[str] = []
    monkeypatch.setattr(_plugins, "PLUGIN_ERRORS", errors)
    monkeypatch.setattr(_plugins.metadata, "entry_points", lambda group: [BadEntryPoint()] if group == _plugins.GROUP else [])
    _plugins.load_plugins()
    assert errors == ["plugin 'bad' (archc_plugin_bad:ops) failed to load: No module named 'archc_plugin_bad'"]
    assert "archc: warning: plugin 'bad' failed to load" in capsys.readouterr().err


@pytest.mark.parametrize("op", ["swiglu", "archc_plugin_example.ops.swiglu", "archc_plugin_example.ops:swiglu"])
def test_spec_cannot_name_python_code(op, tmp_path):
    """Without the plugin installed its op is unknown, and a spec cannot import code by naming a module."""
    import archc
    from archc.diagnostics import DiagnosticError

    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.read_text().replace("{op: swiglu,", f"{{op: '{op}',"))
    with pytest.raises(DiagnosticError, match="ARC113"):
        archc.infer(spec)
    assert "archc_plugin_example" not in sys.modules
