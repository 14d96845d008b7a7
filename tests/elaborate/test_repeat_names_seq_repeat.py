"""Issue 11 item 5: `repeat_names` may offset the index (`"${i + 1}"`, torchvision's `features.1`),
invalid names are refused with the naming rule, and `repeat` works on items of a `seq`."""
from __future__ import annotations

import textwrap

import pytest
import torch

import archc
from archc.errors import DiagnosticError

HEAD = textwrap.dedent("""\
    archc: 1
    name: t
    symbols: {B: {example: 2}}
    inputs:
      image: {shape: [B, 3, 8, 8]}
    blocks:
      conv_relu:
        layers:
          - conv: {op: conv2d, out: 4, kernel: 3, padding: 1}
          - act:  {op: relu}
    """)


def _write(tmp_path, body: str):
    p = tmp_path / "s.yaml"
    p.write_text(HEAD + textwrap.dedent(body))
    return p


def _diag(path):
    with pytest.raises(DiagnosticError) as e:
        archc.infer(path)
    return e.value.diagnostics


def test_repeat_names_offset_gives_numeric_children(tmp_path):
    p = _write(tmp_path, """\
        layers:
          - features: {block: conv_relu, repeat: 2, repeat_names: "${i + 1}"}
        outputs:
          y: {from: features}
        """)
    g = archc.infer(p)
    assert [n.path for n in g.nodes] == ["features.1.conv", "features.1.act", "features.2.conv", "features.2.act"]
    m = archc.compile(p, device="meta")
    assert sorted(m.state_dict()) == ["features.1.conv.bias", "features.1.conv.weight",
                                      "features.2.conv.bias", "features.2.conv.weight"]


@pytest.mark.parametrize("names, words", [
    ('"${i - 1}"', ["repetition 0", "-1", "not a valid name", "a letter or `_`", "non-negative integer"]),
    ('"1st_${i}"', ["'1st_0'", "not a valid name", "a letter or `_`"]),
    ('"layer"', ["repetitions 0 and 1 the same name 'layer'"]),
])
def test_invalid_repeat_names_say_the_rule(tmp_path, names, words):
    p = _write(tmp_path, f"""\
        layers:
          - body: {{block: conv_relu, repeat: 2, repeat_names: {names}}}
        outputs:
          y: {{from: body}}
        """)
    d = [d for d in _diag(p) if d.code == "ARC102"][0]
    text = d.message + " " + (d.hint or "")
    for w in words:
        assert w in text, (w, text)
    assert d.span is not None and d.span.line == 12


SEQ = """\
    layers:
      - features:
          seq:
            - {op: conv2d, out: 4, kernel: 3, padding: 1}
            - {block: conv_relu, repeat: 2}
            - {op: relu}
            - {op: conv2d, out: 4, kernel: 1, repeat: 2}
    outputs:
      y: {from: features}
    """


def test_repeat_on_a_seq_item_expands_in_place(tmp_path):
    p = _write(tmp_path, SEQ)
    g = archc.infer(p)
    assert [n.path for n in g.nodes] == [
        "features.0", "features.1.conv", "features.1.act", "features.2.conv", "features.2.act",
        "features.3", "features.4", "features.5"]
    m = archc.compile(p)
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.Sequential(), torch.nn.Sequential(),  # placeholders, replaced below
        torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 1), torch.nn.Conv2d(4, 4, 1))
    for k in (1, 2):
        ref[k] = torch.nn.Module()
        ref[k].conv = torch.nn.Conv2d(4, 4, 3, padding=1)
    ref.load_state_dict({k.removeprefix("features."): v for k, v in m.state_dict().items()})
    x = torch.randn(2, 3, 8, 8)
    h = ref[0](x)
    for k in (1, 2):
        h = torch.relu(ref[k].conv(h))
    expected = ref[5](ref[4](torch.relu(h)))
    out = m(x)
    out = out["y"] if isinstance(out, dict) else out
    torch.testing.assert_close(out, expected)


def test_repeated_seq_item_names_that_clash_are_a_diagnostic(tmp_path):
    p = _write(tmp_path, """\
        layers:
          - features:
              seq:
                - {op: relu}
                - {block: conv_relu, repeat: 2, repeat_names: "${i}"}
        outputs:
          y: {from: features}
        """)
    d = [d for d in _diag(p) if d.code == "ARC102"][0]
    assert "which another item of `features` already has" in d.message
