"""`archc graph` as a reader sees it: every extension honoured or refused, no binary on a terminal,
a legend, masks that are not skips, repeats with their counts, one repetition opened, tied weights
marked and counted once, --dpi and --rankdir. Tests that need Graphviz's `dot` skip without it."""
from __future__ import annotations

import os
import pty
import shutil
import struct
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from archc.api import infer
from archc.cli.main import app
from archc.draw import build_view, to_dot, to_mermaid
from archc.draw.legend import legend_entries
from tests.conftest import ROOT, ZOO

runner = CliRunner()
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed (make test installs it)")
_graphs: dict = {}


def graph_of(name: str):
    if name not in _graphs:
        _graphs[name] = infer(f"specs/{name}.yaml", param_limit=None)
    return _graphs[name]


# --- formats ------------------------------------------------------------------------------------

MAGIC = {"pdf": b"%PDF-", "jpg": b"\xff\xd8\xff", "jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml"}


@needs_dot
@pytest.mark.parametrize("ext", ["pdf", "jpg", "jpeg", "png", "svg"])
def test_each_graphviz_extension_is_honoured(ext, tmp_path):
    out = tmp_path / f"x.{ext}"
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(MAGIC[ext]), out.read_bytes()[:40]


@pytest.mark.parametrize("ext", ["pdf", "jpg"])
def test_pdf_and_jpg_are_never_dot_text(ext, tmp_path):
    """Without Graphviz a .pdf is refused (exit 3), not DOT text under a .pdf name."""
    out = tmp_path / f"x.{ext}"
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "-o", str(out)], env={"PATH": str(tmp_path)})
    assert r.exit_code == 3, r.output
    assert f"--format {ext} needs Graphviz's `dot` program" in r.stderr and not out.exists()


def test_markdown_is_a_mermaid_block(tmp_path):
    out = tmp_path / "model.md"
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "-o", str(out)], env={"PATH": str(tmp_path)})
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.startswith("```mermaid\n---\ntitle: mlp\n---\nflowchart TB\n") and text.endswith("\n```\n")
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "-f", "md"])
    assert r.exit_code == 0 and r.stdout == text


@pytest.mark.parametrize("name", ["x.txt", "x", "x.tiff", "x.svgz"])
def test_an_extension_that_names_no_format_is_refused(name, tmp_path):
    out = tmp_path / name
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert "cannot tell the picture format" in r.stderr
    for ext in (".svg", ".png", ".pdf", ".jpg", ".dot", ".gv", ".mmd", ".md"):
        assert ext in r.stderr
    assert not out.exists() and "Traceback" not in r.output
    # an explicit --format writes any name
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "-o", str(out), "--format", "dot"])
    assert r.exit_code == 0 and out.read_text().startswith("digraph")


def test_format_contradicting_the_extension_is_refused(tmp_path):
    out = tmp_path / "x.svg"
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "-o", str(out), "--format", "mermaid"])
    assert r.exit_code == 2 and "--format mermaid does not match" in r.stderr and "means svg" in r.stderr
    assert not out.exists()
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "-o", str(tmp_path / "x.jpeg"), "--format", "JPG"])
    assert r.exit_code in (0, 3), r.output  # jpeg is jpg: no contradiction (3 only without Graphviz)


def _on_a_terminal(args: list[str]) -> tuple[int, bytes, str]:
    """Run archc with stdout on a pseudo-terminal: exit code, what reached the terminal, stderr."""
    master, slave = pty.openpty()
    try:
        p = subprocess.run([sys.executable, "-m", "archc", *args], cwd=ROOT, stdout=slave, stderr=subprocess.PIPE,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
        os.close(slave)
        seen = b""
        try:
            while chunk := os.read(master, 65536):
                seen += chunk
        except OSError:
            pass
    finally:
        os.close(master)
    return p.returncode, seen, p.stderr.decode()


@pytest.mark.parametrize("fmt", ["png", "pdf", "jpg"])
def test_binary_formats_never_reach_a_terminal(fmt):
    code, seen, err = _on_a_terminal(["graph", "specs/mlp.yaml", "--format", fmt])
    assert code == 2, err
    assert f"--format {fmt} is binary and stdout is a terminal" in err and f"-o FILE.{fmt}" in err
    assert seen == b""


def test_text_formats_reach_a_terminal():
    code, seen, err = _on_a_terminal(["graph", "specs/mlp.yaml", "--format", "dot"])
    assert code == 0, err
    assert seen.startswith(b'digraph "mlp"')


# --- legend -------------------------------------------------------------------------------------

def test_legend_says_what_each_colour_and_line_means():
    unet = build_view(graph_of("unet"))
    entries = {e.kind: e.text for e in legend_entries(unet)}
    assert entries["family"] == "conv: conv2d"  # the only op box in U-Net's default picture is the head
    assert entries["skip"].startswith("skip connection") and "dashed" not in entries["skip"]
    assert "mask" not in entries and "tie" not in entries and "frame" not in entries  # only what is drawn
    text = to_dot(unet)
    assert '"legend:" [shape=plaintext' in text and "skip connection: joins the main path" in text
    assert '<TD BGCOLOR="#cfe2f3" WIDTH="24"> </TD><TD ALIGN="LEFT">conv: conv2d</TD>' in text
    mm = to_mermaid(unet)
    assert 'subgraph legend ["legend"]' in mm and "dotted red arrow: skip connection" in mm
    fams = [e.text for e in legend_entries(build_view(graph_of("resnet50"), ["layer1.0"]))]
    assert fams[:4] == ["conv: conv2d", "norm: batch_norm", "activation: relu",
                         "pool: max_pool2d, adaptive_avg_pool2d"]


def test_no_legend():
    r = runner.invoke(app, ["graph", "specs/unet.yaml", "--no-legend"])
    assert r.exit_code == 0 and "legend" not in r.stdout
    r = runner.invoke(app, ["graph", "specs/unet.yaml", "-f", "mermaid", "--no-legend"])
    assert r.exit_code == 0 and "legend" not in r.stdout


# --- masks --------------------------------------------------------------------------------------

@pytest.mark.parametrize("expand", [(), ("encoder.layer",), ("all",)], ids=["default", "one-layer", "all"])
def test_masks_are_not_skip_connections(expand):
    view = build_view(graph_of("bert_base"), expand)
    from_mask = [e for e in view.edges if e.src == "input:attention_mask"]
    assert from_mask and all(e.kind == "mask" and not e.skip for e in from_mask)
    assert not [e for e in view.edges if e.skip and e.kind != "data"]
    text = to_dot(view)
    assert '"input:attention_mask" -> ' in text and '[label=" mask [B, T]", style=dotted, color="#7f8c8d"' in text
    assert "attention mask (not a skip connection)" in text


def test_bert_residuals_stay_skips():
    view = build_view(graph_of("bert_base"), ["all"])
    skips = {(e.src, e.dst) for e in view.edges if e.skip}
    assert ("embeddings.dropout", "encoder.layer.0.attention.output.sum") in skips
    assert len(skips) == 2 * 12  # two residuals per layer, nothing from the mask


# --- repeats --------------------------------------------------------------------------------------

def test_default_vit_shows_its_repeat():
    view = build_view(graph_of("vit_b_16"))
    assert "encoder" in view.clusters
    assert view.items["encoder.layers"].lines == ["layers", "12 × encoder_layer"]
    # drawn closed, a block says what it holds instead of a bare name
    assert build_view(graph_of("vit_b_16"), depth=0).items["encoder"].lines == ["encoder", "12 × encoder_layer"]
    assert build_view(graph_of("gpt2"), depth=0).items["transformer"].lines == ["transformer", "12 × decoder_layer"]


@pytest.mark.parametrize("spec", ZOO, ids=lambda p: p.stem)
def test_no_zoo_default_picture_has_a_bare_box(spec):
    view = build_view(infer(spec.relative_to(ROOT), param_limit=None))
    bare = [i.id for i in view.items.values() if i.kind == "scope" and len(i.lines) < 2]
    assert not bare, f"{spec.stem}: boxes that say only their name: {bare}"


def test_expand_opens_one_repetition():
    g = graph_of("vit_b_16")
    view = build_view(g, ["encoder.layers"], annotate="params")
    assert "encoder.layers.encoder_layer_0" in view.clusters and "encoder.layers.encoder_layer_0.ln_1" in view.items
    group = view.items["encoder.layers.encoder_layer_1..encoder_layer_11"]
    assert group.lines[:2] == ["encoder_layer_1 … encoder_layer_11", "11 more × encoder_layer"]
    assert group.members == 11 and group.params == 11 * view.clusters["encoder.layers.encoder_layer_0"].params
    assert not [i for i in view.items if "encoder_layer_5" in i and i != group.id]
    path = [(e.src, e.dst) for e in view.edges if group.id in (e.src, e.dst)]
    assert path == [("encoder.layers.encoder_layer_0.res_2", group.id), (group.id, "encoder.ln")]
    assert sum(i.params for i in view.items.values()) == g.param_count
    r = runner.invoke(app, ["graph", "specs/vit_b_16.yaml", "--expand", "encoder.layers", "-f", "mermaid"])
    assert r.exit_code == 0 and "11 more × encoder_layer" in r.stdout


def test_expanding_a_later_repetition_groups_the_ones_around_it():
    view = build_view(graph_of("resnet50"), ["layer3.3"])
    assert {"layer3", "layer3.3"} <= set(view.clusters) and "layer3.0" not in view.clusters
    assert view.items["layer3.0..2"].lines == ["layer3.0 … layer3.2", "3 × bottleneck"]
    assert view.items["layer3.4..5"].lines == ["layer3.4 … layer3.5", "2 more × bottleneck"]
    assert set(build_view(graph_of("resnet50"), ["bottleneck"]).clusters) >= {f"layer3.{k}" for k in range(6)}


# --- tied parameters ------------------------------------------------------------------------------

def test_tied_weights_are_marked_and_counted_once():
    g = graph_of("gpt2")
    view = build_view(g, annotate="params")
    head = view.items["lm_head"]
    assert "weight tied to transformer.wte.weight" in head.lines and head.params == 0
    assert not [x for x in head.lines if "params" in x]  # GPT-2's head owns nothing: no 38.60M twice
    assert [(e.src, e.dst, e.kind) for e in view.edges if e.kind == "tie"] == [("transformer.wte", "lm_head", "tie")]
    text = to_dot(view)
    assert '"transformer.wte" -> "lm_head" [label=" tied weight", style=dotted' in text and "constraint=false" in text
    assert "tied weight: one parameter shared, counted once" in text
    assert 'label="gpt2 | 124.44M params"' in text and 'label="transformer | 124.44M params"' in text


@pytest.mark.parametrize("spec", ZOO, ids=lambda p: p.stem)
@pytest.mark.parametrize("expand", [(), ("all",)], ids=["default", "all"])
def test_box_params_add_up_to_the_title(spec, expand):
    g = infer(spec.relative_to(ROOT), param_limit=None)
    view = build_view(g, expand)
    assert sum(i.params for i in view.items.values()) == g.param_count


# --- layout options -------------------------------------------------------------------------------

@pytest.mark.parametrize("rankdir", ["TB", "LR", "BT", "rl"])
def test_rankdir(rankdir):
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "--rankdir", rankdir])
    assert r.exit_code == 0 and f"graph [rankdir={rankdir.upper()}," in r.stdout
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "--rankdir", rankdir, "-f", "mermaid"])
    assert r.exit_code == 0 and f"\nflowchart {rankdir.upper()}\n" in r.stdout


def test_bad_rankdir_and_dpi(tmp_path):
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "--rankdir", "up"])
    assert r.exit_code == 2 and "--rankdir must be one of TB, LR, BT, RL, got 'up'" in r.stderr
    for args in (["-o", str(tmp_path / "x.svg")], ["-o", str(tmp_path / "x.pdf")], ["-f", "dot"]):
        r = runner.invoke(app, ["graph", "specs/mlp.yaml", "--dpi", "200", *args])
        assert r.exit_code == 2 and "--dpi applies to png and jpg pictures only" in r.stderr, r.output
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "--dpi", "0", "-o", str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "--dpi must be from 1 to 1200, got 0" in r.stderr
    assert os.listdir(tmp_path) == []


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@needs_dot
def test_dpi_scales_raster_pictures(tmp_path):
    sizes = {}
    for dpi in (48, 192):
        out = tmp_path / f"m{dpi}.png"
        r = runner.invoke(app, ["graph", "specs/mlp.yaml", "--dpi", str(dpi), "-o", str(out)])
        assert r.exit_code == 0, r.output
        sizes[dpi] = _png_size(out.read_bytes())
    (w1, h1), (w4, h4) = sizes[48], sizes[192]
    assert 3.5 < w4 / w1 < 4.5 and 3.5 < h4 / h1 < 4.5, sizes
    r = runner.invoke(app, ["graph", "specs/mlp.yaml", "--dpi", "72", "-o", str(tmp_path / "m.jpg")])
    assert r.exit_code == 0 and (tmp_path / "m.jpg").read_bytes().startswith(b"\xff\xd8")
