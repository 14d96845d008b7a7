"""Tables that fit: at 60, 80 and 120 columns (COLUMNS, which rich reads) `archc profile` and
`archc check` cut no number, shorten names so they stay unique, name the columns they leave out,
and `--wide` leaves nothing out. Goldens in tests/report/golden_fit (UPDATE_GOLDEN=1 rewrites)."""
from __future__ import annotations

import json
import os
import re

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from archc.report.fit import shorten, shorten_unique, wrap_items
from archc.profile.units import fmt_bytes, fmt_count
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "report" / "golden_fit"
WIDTHS = (60, 80, 120)
runner = CliRunner()


def run(width: int | None, *args: str) -> str:
    env = {"COLUMNS": str(width), "NO_COLOR": "1"} if width else {"NO_COLOR": "1"}
    r = runner.invoke(app, list(args), env=env)
    assert r.exit_code == 0, r.output
    return "\n".join(line.rstrip() for line in r.stdout.splitlines()) + "\n"


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed (UPDATE_GOLDEN=1 rewrites it)"


def tutorial_spec(tmp_path, name: str) -> str:
    text = (ROOT / "docs" / "tutorial.md").read_text()
    m = re.search(rf"<!-- file: {re.escape(name)} -->\n```\w*\n(.*?)```", text, re.S)
    (tmp_path / name).write_text(m.group(1))
    return str(tmp_path / name)


# ---------------------------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------------------------


def test_shorten_trims_the_longest_segments_first():
    assert shorten("layer1.0.downsample.0", 21) == "layer1.0.downsample.0"
    assert shorten("layer1.0.downsample.0", 16) == "laye….0.downs….0"
    assert len(shorten("a_very_long_single_name", 10)) == 10


def test_shortened_names_stay_unique():
    names = ["layer1.0.conv1", "layer2.0.conv1", "layer1.1.conv1", "layer1.0.downsample.0", "layer1.0.downsample.1"]
    short = shorten_unique(names, 12)
    assert short is not None and len(set(short)) == len(names) and all(len(s) <= 12 for s in short)
    # the first style (segment heads) would merge layer1.0.conv1 and layer2.0.conv1
    assert len({shorten(n, 12) for n in names[:2]}) == 1
    assert shorten_unique(["aaaa1", "aaaa2"], 2) == ["…1", "…2"]  # the tail style keeps them apart
    assert shorten_unique(["ab.c1x", "ab.c2x"], 2) is None  # then the column wraps instead


def test_shapes_wrap_between_dims():
    assert wrap_items("[B, 64, (H - 1)//2 + 1, (W - 1)//2 + 1]", 24) == "[B, 64, (H - 1)//2 + 1,\n(W - 1)//2 + 1]"


# ---------------------------------------------------------------------------------------------
# profile
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_profile_goldens(width):
    out = run(width, "profile", "specs/resnet50.yaml", "--top", "8")
    golden(f"profile_resnet50_{width}.txt", out)
    # nothing is cut: no ellipsis except in a shortened name, and the lines fit
    table = [ln for ln in out.splitlines() if "│" in ln]
    assert all("…" not in cell for ln in table for cell in ln.split("│")[1:])
    assert max(len(ln) for ln in table) <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_tutorial_profile_cuts_no_number(width, tmp_path):
    spec = tutorial_spec(tmp_path, "tiny_resnet.yaml")
    doc = json.loads(run(None, "profile", spec, "--top", "5", "--json"))
    out = run(width, "profile", spec, "--top", "5")
    top = sorted(doc["nodes"], key=lambda n: (-n["flops"], n["id"]))[:5]
    cells = {c.strip() for ln in out.splitlines() if "│" in ln for c in ln.split("│")}
    for n in top:
        assert {fmt_count(n["params"]), fmt_count(n["macs"]), fmt_count(n["flops"])} <= cells, (width, n["id"])
        if width >= 120:
            assert fmt_bytes(n["output_bytes"]) in cells
    assert not any("…" in c for c in cells)  # the tutorial's names fit at every width


def test_profile_wide_leaves_nothing_out():
    narrow = run(60, "profile", "specs/resnet50.yaml", "--top", "20")
    assert "left out to fit 60 columns: where, act. bytes, output" in narrow
    wide = run(60, "profile", "specs/resnet50.yaml", "--top", "20", "--wide")
    assert "left out" not in wide and "layer2.0.downsample.0" in wide and "lib/resnet.yaml:41" in wide
    assert "…" not in wide
    # at 80 columns the long name is shortened, not cut into two rows that read the same
    at80 = run(80, "profile", "specs/resnet50.yaml", "--top", "20")
    assert "layer2.0.downsa….0" in at80 and "layer1.0.downs…" not in at80


# ---------------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_check_goldens(width):
    pytest.importorskip("torch")
    out = run(width, "check", "specs/resnet18.yaml", "--depth", "1")
    golden(f"check_resnet18_depth1_{width}.txt", out)
    assert max(len(ln) for ln in out.splitlines() if "│" in ln) <= width


def test_too_narrow_for_the_numbers_keeps_them_whole():
    # 30 columns cannot hold node, params, MACs and FLOPs: the table overflows rather than cut
    out = run(30, "profile", "specs/resnet50.yaml", "--top", "3")
    assert "236.03M" in out and "472.06M" in out and "9.41K" in out
    assert not any("…" in cell for ln in out.splitlines() if "│" in ln for cell in ln.split("│")[1:])
