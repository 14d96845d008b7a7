"""The `param` and `constant` ops (issue 14, item 4): node-owned learned tensors of any shape and
compile-time tensors, with no input; their state_dict keys are the node paths; how input-less nodes
fit the walk (chaining, `when`, `repeat`, blocks), lowering, verification, the profile and export."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

import archc
from archc.diagnostics import DiagnosticError
from archc.pipeline import Options, run

HEAD = """\
archc: 1
name: t
params: {dim: 8}
symbols: {B: {example: 2}}
inputs: {x: {shape: [B, 4, "${dim}"]}}
"""


def _write(tmp_path: Path, body: str, head: str = HEAD) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(head + textwrap.dedent(body))
    return p


def _compile(tmp_path: Path, body: str, head: str = HEAD):
    return archc.compile(_write(tmp_path, body, head))


def _errors(tmp_path: Path, body: str, head: str = HEAD) -> list:
    p = _write(tmp_path, body, head)
    with pytest.raises(DiagnosticError) as ei:
        run(p, Options(), until="check")
    return [d for d in ei.value.diagnostics if d.severity == "error"]


def _line(tmp_path: Path, fragment: str) -> int:
    text = (tmp_path / "spec.yaml").read_text()
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


# ---------------------------------------------------------------------------------------------
# param
# ---------------------------------------------------------------------------------------------


LAYER_SCALE = """\
layers:
  - fc: {op: linear, out: "${dim}"}
  - gamma: {op: param, shape: ["${dim}"], value: 1.0e-6}
  - scaled: {op: mul, from: [fc, gamma]}
  - logit_scale: {op: param, shape: [], init: constant, value: 2.6592}
  - out: {op: mul, from: [scaled, logit_scale]}
outputs: {y: out}
"""


def test_param_keys_are_node_paths_and_values_are_the_init(tmp_path):
    gm = _compile(tmp_path, LAYER_SCALE)
    sd = gm.state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == {
        "fc.weight": (8, 8), "fc.bias": (8,), "gamma": (8,), "logit_scale": ()}
    assert torch.equal(sd["gamma"], torch.full((8,), 1.0e-6))
    assert sd["logit_scale"].item() == pytest.approx(2.6592)
    assert dict(gm.named_parameters())["gamma"].requires_grad
    assert gm.archc_graph.param_count == sum(p.numel() for p in gm.parameters()) == 8 * 8 + 8 + 8 + 1
    x = torch.randn(2, 4, 8)
    with torch.no_grad():
        want = gm.fc(x) * 1.0e-6 * sd["logit_scale"]
    assert torch.allclose(gm(x), want)


def test_param_learns(tmp_path):
    gm = _compile(tmp_path, LAYER_SCALE)
    gm.train()
    gm(torch.randn(2, 4, 8)).sum().backward()
    assert gm.gamma.grad is not None and gm.gamma.grad.shape == (8,)
    assert gm.logit_scale.grad is not None and gm.logit_scale.grad.shape == ()


@pytest.mark.parametrize("init, check", [
    ("{init: zeros}", lambda t: torch.equal(t, torch.zeros_like(t))),
    ("{init: ones}", lambda t: torch.equal(t, torch.ones_like(t))),
    ("{value: -3.5}", lambda t: torch.equal(t, torch.full_like(t, -3.5))),
    ("{init: normal, mean: 5.0, std: 0.5}", lambda t: abs(t.mean().item() - 5.0) < 0.1 and abs(t.std().item() - 0.5) < 0.1),
    ("{init: trunc_normal, std: 0.02}", lambda t: t.abs().max().item() <= 0.04 + 1e-7 and t.std().item() > 0.005),
    ("{init: uniform, low: 2.0, high: 3.0}", lambda t: t.min().item() >= 2.0 and t.max().item() < 3.0),
])
def test_param_inits(tmp_path, init, check):
    attrs = init.strip("{}")
    gm = _compile(tmp_path, f"""\
        layers:
          - q: {{op: param, shape: [64, 64], {attrs}}}
          - out: {{op: add, from: [x, q]}}
        outputs: {{y: q}}
        """, head=HEAD.replace("[B, 4, \"${dim}\"]", "[64, 64]").replace("symbols: {B: {example: 2}}\n", ""))
    t = gm.state_dict()["q"]
    assert t.shape == (64, 64) and check(t), t


def test_param_is_deterministic_for_the_seed(tmp_path):
    body = "init: {seed: 3}\nlayers:\n  - q: {op: param, shape: [8], init: normal}\n  - o: {op: add, from: [x, q]}\n"
    a = _compile(tmp_path, body).state_dict()["q"]
    b = _compile(tmp_path, body).state_dict()["q"]
    c = _compile(tmp_path, body.replace("seed: 3", "seed: 4")).state_dict()["q"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_param_shape_from_params_and_broadcast(tmp_path):
    gm = _compile(tmp_path, """\
        layers:
          - query_embed: {op: param, shape: [1, 1, "${dim}"], init: normal}
          - out: {op: add, from: [x, query_embed]}
        outputs: {y: out}
        """)
    assert tuple(gm.query_embed.shape) == (1, 1, 8)
    assert run(tmp_path / "spec.yaml", Options(device="meta"), until="verify").verified == []


def test_param_in_a_repeated_block_is_keyed_by_its_path(tmp_path):
    gm = _compile(tmp_path, """\
        blocks:
          scaled:
            params: {dim: int}
            layers:
              - fc: {op: linear, out: "${dim}"}
              - gamma: {op: param, shape: ["${dim}"], init: ones}
              - mul: {op: mul, from: [fc, gamma]}
              - add: {op: add, from: [x, mul]}
        layers:
          - blocks: {block: scaled, repeat: 2, args: {dim: "${dim}"}}
        outputs: {y: blocks}
        """)
    assert {k for k in gm.state_dict() if "gamma" in k} == {"blocks.0.gamma", "blocks.1.gamma"}


def test_the_node_after_a_param_takes_it_by_default(tmp_path):
    gm = _compile(tmp_path, """\
        layers:
          - fc: {op: linear, out: 4}
          - table: {op: param, shape: [3, 8], init: ones}
          - proj: {op: linear, out: 2}
        outputs: {y: proj, f: fc}
        """)
    g = gm.archc_graph
    assert [str(r) for r in g.node("table").inputs] == [] and [str(r) for r in g.node("proj").inputs] == ["table"]
    assert tuple(gm(torch.randn(2, 4, 8))[0].shape) == (3, 2)


def test_a_param_first_in_the_layers_and_in_a_seq(tmp_path):
    gm = _compile(tmp_path, """\
        layers:
          - bias: {op: param, shape: ["${dim}"], init: ones}
          - add: {op: add, from: [x, bias]}
          - s: {seq: [{op: linear, out: 8}, {op: param, shape: [8], value: 2.0}]}
          - out: {op: mul, from: [add, s]}
        outputs: {y: out}
        """)
    assert tuple(gm.state_dict()["s.1"].shape) == (8,)
    x = torch.randn(2, 4, 8)
    assert torch.allclose(gm(x), (x + 1) * 2)


def test_when_false_param_is_absent_and_referencing_it_is_located(tmp_path):
    body = """\
        params: {layer_scale: 0.0}
        layers:
          - fc: {op: linear, out: "${dim}"}
          - gamma: {op: param, shape: ["${dim}"], value: "${layer_scale}", when: "${layer_scale > 0}"}
          - act: {op: relu}
          - scaled: {op: mul, from: [act, gamma], when: "${layer_scale > 0}"}
        outputs: {y: scaled}
        """
    head = HEAD.replace("params: {dim: 8}\n", "")
    gm = archc.compile(_write(tmp_path, body.replace("params: {layer_scale: 0.0}", "params: {dim: 8, layer_scale: 0.0}"), head))
    g = gm.archc_graph
    assert [n.path for n in g.nodes] == ["fc", "act"]
    assert [str(r) for r in g.node("act").inputs] == ["fc"]  # the chain skips the absent param
    errors = _errors(tmp_path, body.replace("params: {layer_scale: 0.0}", "params: {dim: 8, layer_scale: 0.0}")
                     .replace(', when: "${layer_scale > 0}"}\n        outputs', "}\n        outputs"), head)
    (d,) = errors
    assert d.code == "ARC104" and "`scaled` takes input from `gamma`, which is left out" in d.message
    assert d.span.line == _line(tmp_path, "scaled:") and d.related[0].span.line == _line(tmp_path, "gamma:")


def test_param_refuses_an_input(tmp_path):
    (d,) = _errors(tmp_path, "layers:\n  - p: {op: param, shape: [8], from: x}\n")
    assert d.code == "ARC102" and "`p` (param) takes 0 input(s), got 1" in d.message
    assert d.span.line == _line(tmp_path, "- p:")


@pytest.mark.parametrize("attrs, code, words", [
    ("shape: [8], init: constant", "ARC103", "`init: constant` but no `value`"),
    ("shape: [8], init: normal, value: 1.0", "ARC102", "only `init: constant` uses"),
    ("shape: [8, 0]", "ARC204", "entry 1 is 0"),
    ("shape: [H]", "ARC102", "must be an integer or a ${...} expression; got 'H'"),
    ("shape: [8], init: uniform, low: 1.0, high: 1.0", "ARC102", "low=1.0 not below high=1.0"),
    ("shape: [8], init: glorot", "ARC102", "`init` in `p` (param)"),
])
def test_param_mistakes_are_located_diagnostics(tmp_path, attrs, code, words):
    (d,) = _errors(tmp_path, f"layers:\n  - p: {{op: param, {attrs}}}\n  - o: {{op: add, from: [x, p]}}\n")
    assert d.code == code and words in d.message, d.message
    assert d.span is not None and d.span.line == _line(tmp_path, "- p:")


def test_param_output_is_not_counted_as_an_activation(tmp_path):
    from archc.profile.run import Request

    p = _write(tmp_path, "layers:\n  - q: {op: param, shape: [1024, 1024]}\n  - o: {op: add, from: [x, q]}\n",
               HEAD.replace("[B, 4, \"${dim}\"]", "[1, 1024]").replace("symbols: {B: {example: 2}}\n", ""))
    static = run(p, until="measure", measure=Request(device="meta")).measured.static
    assert static.weights_bytes == 1024 * 1024 * 4
    # the input [1, 1024] and the sum [1024, 1024]; the parameter is not a second copy
    assert static.peak_activation_bytes == (1024 + 1024 * 1024) * 4


# ---------------------------------------------------------------------------------------------
# constant
# ---------------------------------------------------------------------------------------------


def test_constants_are_computed_from_params(tmp_path):
    gm = archc.compile(_write(tmp_path, """\
        layers:
          - position_ids: {op: constant, arange: ["${max_len}"], shape: [1, "${max_len}"], persistent: false}
          - steps: {op: constant, arange: [0.5, 2.0, 0.5]}
          - eye: {op: constant, eye: "${dim}", dtype: float32}
          - rect: {op: constant, eye: [2, 3]}
          - mask: {op: constant, full: true, shape: [2, 2]}
          - table: {op: constant, values: [[0, 1], [2, 3], [4, 5]]}
          - ftable: {op: constant, values: [1, 2.5]}
          - mm: {op: matmul, from: [x, eye]}
        outputs: {y: mm, ids: position_ids, steps: steps, rect: rect, mask: mask, table: table, ftable: ftable}
        """, HEAD.replace("params: {dim: 8}", "params: {dim: 8, max_len: 6}")))
    x = torch.randn(2, 4, 8)
    y, ids, steps, rect, mask, table, ftable = gm(x)
    assert torch.allclose(y, x)
    assert torch.equal(ids, torch.arange(6).reshape(1, 6)) and ids.dtype == torch.int64
    assert torch.equal(steps, torch.tensor([0.5, 1.0, 1.5])) and steps.dtype == torch.float32
    assert torch.equal(rect, torch.eye(2, 3))
    assert torch.equal(mask, torch.ones(2, 2, dtype=torch.bool))
    assert torch.equal(table, torch.tensor([[0, 1], [2, 3], [4, 5]]))
    assert torch.equal(ftable, torch.tensor([1.0, 2.5]))
    sd = gm.state_dict()
    assert "position_ids" not in sd and "position_ids" in dict(gm.named_buffers())  # non-persistent
    assert {"steps", "eye", "rect", "mask", "table", "ftable"} <= set(sd)
    assert gm.archc_graph.param_count == 0 == sum(p.numel() for p in gm.parameters())
    assert run(tmp_path / "spec.yaml", Options(device="meta"), until="verify").verified == []


def test_constant_index_buffer_feeds_an_embedding(tmp_path):
    gm = archc.compile(_write(tmp_path, """\
        layers:
          - position_ids: {op: constant, arange: [4], shape: [1, 4], persistent: false}
          - position_embeddings: {op: embedding, num: 16, dim: "${dim}"}
          - add: {op: add, from: [x, position_embeddings]}
        outputs: {y: add}
        """))
    x = torch.randn(2, 4, 8)
    with torch.no_grad():
        assert torch.allclose(gm(x), x + gm.position_embeddings.weight[:4])


@pytest.mark.parametrize("attrs, code, words", [
    ("{op: constant}", "ARC103", "exactly one of `arange`, `eye`, `full`, `values`"),
    ("{op: constant, arange: [4], eye: 2}", "ARC102", "got `arange`, `eye`"),
    ("{op: constant, full: 1.0}", "ARC103", "with `full` needs `shape`"),
    ("{op: constant, values: [[1, 2], [3]]}", "ARC102", "not rectangular"),
    ("{op: constant, values: [[1, 2], []]}", "ARC102", "empty list"),
    ("{op: constant, values: [1, x]}", "ARC102", "not a number"),
    ("{op: constant, arange: [6], shape: [4, 2]}", "ARC204", "has 8 elements, but the arange has 6"),
    ("{op: constant, arange: [3, 1]}", "ARC204", "is empty"),
    ("{op: constant, arange: [0, 4, 0]}", "ARC102", "step 0"),
    ("{op: constant, arange: [0.5, 2.0], dtype: int64}", "ARC202", "cannot be int64"),
    ("{op: constant, eye: 4, dtype: complex64}", "ARC102", "`dtype` in `c` (constant)"),
    ("{op: constant, full: 0, shape: [5000, 5000]}", "ARC209", "over the limit"),
])
def test_constant_mistakes_are_located_diagnostics(tmp_path, attrs, code, words):
    (d,) = _errors(tmp_path, f"layers:\n  - c: {attrs}\n  - o: {{op: identity, from: x}}\n")
    assert d.code == code and words in d.message, d.message
    assert d.span is not None and d.span.line == _line(tmp_path, "- c:")


def test_constant_and_param_build_and_export(tmp_path):
    """Every format reloads and verifies a module with a param, a persistent and a non-persistent
    buffer (torchscript scripts the call, the source writes the non-persistent values)."""
    from archc.api import build

    p = _write(tmp_path, """\
        layers:
          - gamma: {op: param, shape: ["${dim}"], init: normal}
          - ids: {op: constant, arange: [4], shape: [1, 4], persistent: false}
          - eye: {op: constant, eye: "${dim}", dtype: float32}
          - mm: {op: matmul, from: [x, eye]}
          - out: {op: mul, from: [mm, gamma]}
        outputs: {y: out, ids: ids}
        """)
    result = build(p, str(tmp_path / "out"), emit=["torchscript", "source", "state_dict"])
    statuses = {k: v["status"] for k, v in result.manifest["artifacts"].items()}
    assert statuses and all(s.startswith("verified") for s in statuses.values()), statuses
    source = (tmp_path / "out" / "model.py").read_text()
    assert "register_buffer('ids', torch.tensor([[0, 1, 2, 3]], dtype=torch.int64), persistent=False)" in source
