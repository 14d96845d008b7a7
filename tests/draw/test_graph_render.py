"""`archc graph`: every zoo spec in every format, DOT goldens, collapsing, skips and shapes.

Regenerate the DOT and Mermaid goldens with `UPDATE_GOLDEN=1 pytest tests/draw`. SVG/PNG tests skip when
Graphviz's `dot` is not installed (`make install-test` installs it where it can).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from archc.api import infer
from archc.cli.main import app
from archc.draw import build_view, render, to_dot, to_mermaid
from tests.conftest import ROOT, ZOO

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
GOLDEN = ROOT / "tests" / "golden" / "graph"
GOLDEN_SPECS = ("mlp", "unet", "vit_b_16", "gpt2", "bert_base")  # repeats, skips, a tie, a mask
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed (make install-test installs it)")
runner = CliRunner()
_graphs: dict = {}


def graph_of(path) -> object:
    key = str(path)
    if key not in _graphs:
        _graphs[key] = infer(path, param_limit=None)
    return _graphs[key]


def mermaid_balanced(text: str) -> bool:
    depth = 0
    for line in text.splitlines():
        word = line.strip().split(" ", 1)[0]
        if word == "subgraph":
            depth += 1
        elif word == "end":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


@pytest.mark.parametrize("fmt", ["dot", "mermaid", pytest.param("svg", marks=needs_dot), pytest.param("png", marks=needs_dot)])
@pytest.mark.parametrize("spec", ZOO, ids=lambda p: p.stem)
def test_zoo_renders_in_every_format(spec, fmt, tmp_path):
    out = tmp_path / f"{spec.stem}.{'mmd' if fmt == 'mermaid' else fmt}"
    r = runner.invoke(app, ["graph", str(spec.relative_to(ROOT)), "-o", str(out)])
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    if fmt == "dot":
        assert data.startswith(b"digraph ")
    elif fmt == "mermaid":
        assert data.startswith(b"---\n") and b"flowchart TB" in data and mermaid_balanced(data.decode())
    elif fmt == "svg":
        assert b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")
    else:
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(os.listdir(tmp_path)) == [out.name], "the temporary file was left behind"


@pytest.mark.parametrize("expand", [(), ("all",)], ids=["collapsed", "expanded"])
@pytest.mark.parametrize("spec", ZOO, ids=lambda p: p.stem)
def test_dot_parses_and_mermaid_balances(spec, expand):
    g = graph_of(spec.relative_to(ROOT))
    view = build_view(g, expand)
    mm = to_mermaid(view)
    assert mermaid_balanced(mm)
    assert mm.count("subgraph ") == len(view.clusters) + 1  # and the legend
    text = to_dot(view)
    assert text.count("{") == text.count("}")
    if HAS_DOT:
        p = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr.decode()


@pytest.mark.parametrize("name, ext", [(n, e) for n in GOLDEN_SPECS for e in ("dot", "mmd")])
def test_dot_golden(name, ext):
    r = runner.invoke(app, ["graph", f"specs/{name}.yaml", "--format", ext])
    assert r.exit_code == 0, r.output
    golden = GOLDEN / f"{name}.{ext}"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(r.stdout)
    assert golden.exists(), f"no golden for {name}: run with UPDATE_GOLDEN=1"
    assert r.stdout == golden.read_text(), f"{golden} is stale: review the diff, then UPDATE_GOLDEN=1 pytest tests/draw"


def test_resnet50_collapses_to_stages():
    view = build_view(graph_of("specs/resnet50.yaml"))  # the default: no frames
    boxes = [i for i in view.items.values() if i.kind in ("op", "scope")]
    assert [i.id for i in boxes] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                                     "avgpool", "flatten", "fc"]
    assert view.items["layer1"].lines == ["layer1", "3 × bottleneck"]
    assert view.items["layer3"].lines == ["layer3", "6 × bottleneck"]
    assert not view.clusters and not any(e.skip for e in view.edges)
    assert [e.label for e in view.edges if e.src == "layer4"] == ["[B, 2048, (H - 1)//32 + 1, (W - 1)//32 + 1]"]


def test_default_depth_opens_wrappers():
    """A model wrapped in one block opens to its parts; ResNet-50 stays collapsed; --depth 0 forces it."""
    if not (ROOT / "specs" / "gpt2.yaml").exists():
        pytest.skip("specs/gpt2.yaml is not in the zoo")
    gpt2 = graph_of("specs/gpt2.yaml")
    v = build_view(gpt2)
    assert set(v.clusters) == {"transformer"} and v.items["transformer.h"].lines == ["h", "12 × decoder_layer"]
    assert [i.id for i in build_view(gpt2, depth=0).items.values() if i.kind == "scope"] == ["transformer"]
    mlp = graph_of("specs/mlp.yaml")
    assert set(build_view(mlp).clusters) == {"hidden", "hidden.0", "hidden.1"}
    v = build_view(mlp, ["hidden"])  # an open repeat opens its first repetition
    assert set(v.clusters) == {"hidden", "hidden.0"} and v.items["hidden.1"].lines == ["hidden.1", "dense"]


def test_depth_and_expand_open_scopes():
    g = graph_of("specs/resnet50.yaml")
    v = build_view(g, depth=1)  # each open stage shows its first bottleneck and groups the rest
    assert set(v.clusters) == {"layer1", "layer2", "layer3", "layer4", "layer1.0", "layer2.0", "layer3.0", "layer4.0"}
    assert v.items["layer3.1..5"].lines == ["layer3.1 … layer3.5", "5 more × bottleneck"]
    v = build_view(g, ["bottleneck"])
    assert len([c for c in v.clusters if c.count(".") == 1]) == 16 and "layer1.0.downsample" in v.items
    v = build_view(g, ["layer2.0"])  # a nested scope opens its ancestors too
    assert set(v.clusters) == {"layer2", "layer2.0"} and "layer2.0.conv1" in v.items
    assert v.items["layer2.0.downsample"].lines == ["downsample", "seq of 2"]
    skips = [(e.src, e.dst) for e in v.edges if e.skip]
    assert skips == [("layer2.0.downsample", "layer2.0.add")]
    full = build_view(g, ["all"])
    assert not [i for i in full.items.values() if i.kind == "scope"]
    assert len([i for i in full.items.values() if i.kind == "op"]) == len(g.nodes)


def test_unet_skips_and_symbolic_shapes():
    view = build_view(graph_of("specs/unet.yaml"))
    skips = sorted((e.src, e.dst, e.label) for e in view.edges if e.skip)
    assert skips == [("down1", "up3", "[B, 128, H//2, W//2]"), ("down2", "up2", "[B, 256, H//4, W//4]"),
                     ("down3", "up1", "[B, 512, H//8, W//8]"), ("inc", "up4", "[B, 64, H, W]")]
    text = to_dot(view)
    assert '"down3" -> "up1" [label=" [B, 512, H//8, W//8]", style=dashed' in text
    mm = to_mermaid(view)
    assert 'n_down3 -.->|"[B, 512, H//8, W//8]"| n_up1' in mm


def test_colours_by_family_and_params_annotation():
    g = graph_of("specs/resnet50.yaml")
    text = to_dot(build_view(g, ["layer1.0"], annotate="params"))
    assert 'label="resnet50 | 25.56M params"' in text
    assert '"layer1.0.conv1" [label="conv1\\nconv2d out=64, kernel=1\\n4.10K params", fillcolor="#cfe2f3"' in text
    assert '"layer1.0.bn1" [label="bn1\\nbatch_norm\\n128 params", fillcolor="#fff2cc"' in text
    assert "layer1: 3 × bottleneck | 215.81K params" in text


def test_colour_comes_from_the_picture_trait_not_the_family(monkeypatch):
    """A box's colour is its op's `Traits.picture`: batch_norm drawn as a conv, relu under a key no
    table lists (a fallback colour by name), while their `family` stays what it was."""
    from dataclasses import replace

    from archc.draw.dot import FALLBACK, FAMILY_COLORS, family_color
    from archc.ops import OPS, load_ops

    load_ops()
    for name, picture in (("batch_norm", "conv"), ("relu", "my-plugin-family")):
        op = OPS[name]
        monkeypatch.setitem(OPS, name, replace(op, traits=replace(op.traits, picture=picture)))
    text = to_dot(build_view(graph_of("specs/resnet50.yaml"), ["layer1.0"]))
    assert OPS["batch_norm"].family == "norm"
    assert f'"layer1.0.bn1" [label="bn1\\nbatch_norm", fillcolor="{FAMILY_COLORS["conv"]}"' in text
    relu = family_color("my-plugin-family")
    assert relu in FALLBACK and relu != FAMILY_COLORS["activation"]
    assert re.search(r'"layer1\.0\.relu[^"]*" \[label="[^"]*\\nrelu", fillcolor="' + re.escape(relu), text), text


def test_mermaid_ids_are_safe():
    mm = to_mermaid(build_view(graph_of("specs/resnet50.yaml"), ["all"]))
    ids = set(re.findall(r"^\s*(\w+)[\[(]", mm, re.M))
    assert "n_layer1_0_conv1" in ids and "end" not in ids
    assert all(i.startswith(("n_", "in_", "out_", "legend_")) for i in ids)


def test_render_api_formats():
    g = graph_of("specs/mlp.yaml")
    assert render(g, "dot").startswith(b"digraph")
    assert render(g, "mermaid").startswith(b"---")
    assert render(g, "md").startswith(b"```mermaid\n---")
    with pytest.raises(ValueError):
        render(g, "tiff")


def test_graph_is_torch_free():
    code = ("import sys, glob\nfrom archc.api import infer\nfrom archc.draw import build_view, to_dot, to_mermaid\n"
            "for p in sorted(glob.glob('specs/*.yaml')):\n    v = build_view(infer(p, param_limit=None), ['all'], annotate='all'); to_dot(v); to_mermaid(v)\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_readme_pictures_exist():
    readme = (ROOT / "README.md").read_text()
    pics = re.findall(r"\]\((docs/img/[^)]+)\)", readme)
    assert {"docs/img/resnet50.svg", "docs/img/unet.svg"} <= set(pics)
    for p in pics:
        data = (ROOT / p).read_bytes()
        assert b"<svg" in data[:2000] or data.startswith(b"\x89PNG"), p


def _readme_picture_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Pictures\n"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"^(archc graph .+ -o (docs/img/\S+))$", section, re.M)


def _svg_texts(data: bytes) -> list[str]:
    """What an SVG says (its <text> elements), independent of Graphviz's layout and version."""
    return sorted(re.findall(r"<text[^>]*>([^<]*)</text>", data.decode("utf-8")))


def test_readme_pictures_have_their_commands():
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"\]\((docs/img/[^)]+)\)", readme))
    made = {path for _, path in _readme_picture_commands()}
    assert shown == made, "every picture in the README is made by a command shown above it"


@needs_dot
@pytest.mark.parametrize("cmd, path", [pytest.param(c, p, id=os.path.basename(p)) for c, p in _readme_picture_commands()])
def test_readme_pictures_are_current(cmd, path, tmp_path):
    """The checked-in SVGs are what their commands draw today (regenerate by running them)."""
    args = shlex.split(cmd)[1:]
    out = tmp_path / os.path.basename(path)
    args[args.index(path)] = str(out)
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert _svg_texts(out.read_bytes()) == _svg_texts((ROOT / path).read_bytes()), f"{path} is stale: run `{cmd}`"


def test_flops_annotation():
    g = graph_of("specs/resnet50.yaml")
    text = to_dot(build_view(g, annotate="all"))
    assert re.search(r'label="resnet50 \| 25.56M params \| [0-9.]+ GFLOPs at B=2, H=224, W=224"', text)
    assert re.search(r'"layer1" \[label="layer1\\n3 × bottleneck\\n215.81K params, [0-9.]+ GFLOPs"', text)
    assert "FLOPs" in to_mermaid(build_view(g, ["layer1"], annotate="flops"))
