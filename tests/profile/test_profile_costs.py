"""Static costs against published and independent figures; the cost registry covers every op."""
from __future__ import annotations

import subprocess
import sys

import pytest

from archc.ops import OPS, load_ops
from archc.pipeline import Options, from_graph, run
from archc.ops import Uncounted
from archc.profile import analyze
from archc.profile.costs import causal_pairs
from archc.profile.static import registry_gaps
from tests.conftest import ROOT, SPECS


def static(path, overrides=None, variant=None, dtype=None):
    g = run(str(path), Options(dict(overrides or {}), variant, None), until="check").graph
    return g, analyze(g, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# the registry
# ---------------------------------------------------------------------------------------------


def test_every_registered_op_has_a_cost_rule_or_a_reasoned_uncounted_declaration():
    load_ops()
    assert registry_gaps(OPS) == [], "give the op's registration a cost= rule (or cost=Uncounted(reason))"
    assert all(op.cost.reason.strip() for op in OPS.values() if isinstance(op.cost, Uncounted))
    with pytest.raises(ValueError, match="reason"):
        Uncounted("  ")


def test_registry_gaps_finds_an_op_without_a_rule(monkeypatch):
    import dataclasses

    load_ops()
    monkeypatch.setitem(OPS, "gelu", dataclasses.replace(OPS["gelu"], cost=None))
    monkeypatch.setitem(OPS, "mish", dataclasses.replace(OPS["mish"], cost=Uncounted("not counted, on purpose")))
    assert registry_gaps(OPS) == ["gelu"]


def test_every_op_example_evaluates(tmp_path):
    """Each op's registered example runs through its cost rule without error."""
    import yaml

    load_ops()
    for name, op in sorted(OPS.items()):
        if not op.example_inputs:
            continue
        dtypes = list(op.example_dtypes) or ["float32"] * len(op.example_inputs)
        inputs = {}
        for i, (shape, dt) in enumerate(zip(op.example_inputs, dtypes + ["float32"] * 8)):
            inputs[f"x{i}"] = {"shape": list(shape), "dtype": dt}
            if op.example_ranges and i < len(op.example_ranges) and op.example_ranges[i]:
                inputs[f"x{i}"]["range"] = list(op.example_ranges[i])
        body = yaml.safe_load(op.example)
        body["from"] = list(inputs) if len(inputs) > 1 else "x0"
        spec = {"archc": 1, "name": "ex", "inputs": inputs, "layers": [{"n": body}],
                "outputs": {"y": "n" if name not in ("split", "rnn", "lstm", "gru") else "n[0]"}}
        p = tmp_path / f"{name}.yaml"
        p.write_text(yaml.safe_dump(spec))
        _, prof = static(p)
        assert prof.uncounted == [], name
        assert prof.flops >= 2 * prof.macs >= 0, name


def test_an_op_without_a_rule_is_listed_not_silently_zero(write_spec, monkeypatch):
    import dataclasses

    load_ops()
    monkeypatch.setitem(OPS, "gelu", dataclasses.replace(OPS["gelu"], cost=None))
    path = write_spec("""
        archc: 1
        name: t
        inputs: {x: {shape: [2, 8]}}
        layers:
          - a: {op: linear, out: 8}
          - b: {op: gelu}
          - c: {op: linear, out: 4}
        outputs: {y: c}
    """)
    _, prof = static(path)
    assert prof.uncounted == [{"op": "gelu", "nodes": 1, "share": pytest.approx(1 / 3),
                               "reason": "no cost rule for this op (a plugin op?)"}]
    node = next(n for n in prof.nodes if n.op == "gelu")
    assert node.counted is False


def test_an_op_declared_uncounted_reports_its_reason(write_spec, monkeypatch):
    import dataclasses

    load_ops()
    monkeypatch.setitem(OPS, "gelu", dataclasses.replace(OPS["gelu"], cost=Uncounted("approximated elsewhere")))
    path = write_spec("""
        archc: 1
        name: t
        inputs: {x: {shape: [2, 8]}}
        layers:
          - a: {op: linear, out: 8}
          - b: {op: gelu}
        outputs: {y: b}
    """)
    _, prof = static(path)
    assert prof.uncounted == [{"op": "gelu", "nodes": 1, "share": pytest.approx(1 / 2),
                               "reason": "approximated elsewhere"}]
    assert next(n for n in prof.nodes if n.op == "gelu").uncounted_reason == "approximated elsewhere"


def test_the_convention_is_written_once_and_its_activation_table_is_what_the_rules_count(write_spec):
    from archc.cli import profile as cli_profile
    from archc.profile.convention import SUMMARY
    from archc.profile.costs import CONVENTION

    assert SUMMARY in cli_profile.HELP
    table = CONVENTION["activations_per_element"]
    assert list(table)[:3] == ["relu", "leaky_relu", "sigmoid"]
    for op, per in table.items():
        path = write_spec(f"""
            archc: 1
            name: t
            inputs: {{x: {{shape: [2, 3, 8]}}}}
            layers:
              - a: {{op: {op}}}
            outputs: {{y: a}}
        """)
        _, prof = static(path)
        assert (prof.macs, prof.flops) == (0, per * 48), op


# ---------------------------------------------------------------------------------------------
# published figures
# ---------------------------------------------------------------------------------------------


def test_resnet50_macs_match_torchvision_published_4_09_g():
    _, p = static(SPECS / "resnet50.yaml", {"B": 1})
    assert p.macs == pytest.approx(4.09e9, rel=0.01)
    assert p.params == 25_557_032


def test_vit_b_16_macs_match_torchvision_published_17_56_g():
    path = SPECS / "vit_b_16.yaml"
    if not path.exists():
        pytest.skip("specs/vit_b_16.yaml is not written yet (the lead is writing it)")
    _, p = static(path, {"B": 1})
    assert p.macs == pytest.approx(17.56e9, rel=0.01)
    assert p.params == 86_567_656


# ---------------------------------------------------------------------------------------------
# FlopCounterMode (it counts convolutions and matmuls only: 2 per multiply-add)
# ---------------------------------------------------------------------------------------------

CONV_SPEC = """
    archc: 1
    name: convs
    symbols: {B: {example: 2}, H: {example: 20}}
    inputs: {x: {shape: [B, 6, H, H]}, v: {shape: [B, 4, 16, 8, 8]}, s: {shape: [B, 3, 50]}}
    layers:
      - c1: {op: conv2d, from: x, out: 12, kernel: 3, stride: 2, padding: 1}
      - c2: {op: conv2d, out: 12, kernel: 3, groups: 3, dilation: 2, padding: 2, bias: false}
      - c3: {op: conv2d, out: 24, kernel: [1, 5], padding: same, groups: 12}
      - c4: {op: conv_transpose2d, out: 8, kernel: 4, stride: 2, padding: 1, groups: 2}
      - c5: {op: conv2d, out: 5, kernel: 2, stride: 3}
      - d1: {op: conv3d, from: v, out: 6, kernel: [3, 3, 3], stride: [2, 1, 1], groups: 2}
      - d2: {op: conv_transpose3d, out: 4, kernel: 2, stride: 2}
      - e1: {op: conv1d, from: s, out: 7, kernel: 5, dilation: 3, stride: 2}
      - e2: {op: conv_transpose1d, out: 3, kernel: 3, stride: 3, output_padding: 1}
    outputs: {a: c5, b: d2, c: e2}
"""


def _flop_counter_total(graph) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from archc.codegen.verify import example_inputs

    gm = run(from_graph(graph, Options(device="meta")), until="lower").module
    x = example_inputs(graph, device="meta")
    with FlopCounterMode(display=False) as fc, torch.inference_mode():
        gm(*x.values())
    return fc.get_total_flops()


def test_convolution_macs_equal_flop_counter_mode(write_spec):
    g, p = static(write_spec(CONV_SPEC))
    assert p.macs > 0
    assert 2 * p.macs == _flop_counter_total(g)


def test_convolution_macs_by_hand(write_spec):
    g, p = static(write_spec(CONV_SPEC))
    c = {n.path: n for n in p.nodes}
    assert c["c1"].macs == 2 * 12 * 10 * 10 * 6 * 9             # out_elems * Cin * k*k
    assert c["c2"].macs == 2 * 12 * 10 * 10 * (12 // 3) * 9      # groups 3, dilation 2, padding 2
    assert c["c3"].macs == 2 * 24 * 10 * 10 * 1 * 5              # groups 12: one input channel each
    assert c["c4"].macs == (2 * 24 * 10 * 10) * (8 // 2) * 16    # transposed: in_elems * Cout/g * k*k


@pytest.mark.parametrize("spec,variant,sets", [("resnet.yaml", "resnet18", {"H": 64, "W": 64}),
                                                ("unet.yaml", None, {"H": 32, "W": 32})])
def test_zoo_conv_nets_macs_equal_flop_counter_mode(spec, variant, sets):
    g, p = static(SPECS / spec, sets, variant)
    assert 2 * p.macs == _flop_counter_total(g)


# ---------------------------------------------------------------------------------------------
# attention
# ---------------------------------------------------------------------------------------------

ATTN_SPEC = """
    archc: 1
    name: attn
    symbols: {B: {example: 2}, T: {example: 16}}
    inputs: {x: {shape: [B, T, 32]}}
    layers:
      - a: {op: attention, heads: 4, causal: CAUSAL}
    outputs: {y: a}
"""


def test_attention_flops_grow_quadratically_with_T(write_spec):
    path = write_spec(ATTN_SPEC.replace("CAUSAL", "false"))
    f = {T: static(path, {"T": T})[1].flops for T in (32, 64, 128, 256)}
    g = {T: f[T] // T for T in f}              # linear part constant, quadratic part grows with T
    assert all(f[T] % T == 0 for T in f)
    assert g[128] - g[64] == 2 * (g[64] - g[32]) and g[256] - g[128] == 2 * (g[128] - g[64])
    assert g[64] - g[32] > 0
    # the quadratic coefficient is exactly the scores: 2 products * 2 * B * D + (scale + softmax) * B * heads
    assert (g[64] - g[32]) // 32 == 2 * 2 * 2 * 32 + 6 * 2 * 4


def test_causal_attention_counts_dense_headline_and_exact_triangle(write_spec):
    T = 64
    dense = static(write_spec(ATTN_SPEC.replace("CAUSAL", "false"), "d.yaml"), {"T": T})[1]
    causal = static(write_spec(ATTN_SPEC.replace("CAUSAL", "true"), "c.yaml"), {"T": T})[1]
    assert causal.flops == dense.flops and causal.macs == dense.macs
    assert causal.flops_causal < causal.flops and dense.flops_causal == dense.flops
    B, D, H = 2, 32, 4
    saved = T * T - causal_pairs(T, T)
    assert causal_pairs(T, T) == T * (T + 1) // 2
    assert causal.macs - causal.macs_causal == 2 * B * D * saved
    assert causal.flops - causal.flops_causal == 2 * 2 * B * D * saved + 6 * B * H * saved


def test_attention_op_macs_equal_the_same_attention_written_with_matmuls(write_spec):
    """An independent count: the attention op against linear/reshape/matmul/softmax ops."""
    op = write_spec("""
        archc: 1
        name: a
        inputs: {x: {shape: [2, 10, 32]}}
        layers:
          - a: {op: attention, heads: 4}
        outputs: {y: a}
    """, "op.yaml")
    manual = write_spec("""
        archc: 1
        name: m
        inputs: {x: {shape: [2, 10, 32]}}
        layers:
          - qkv:  {op: linear, out: 96}
          - heads: {op: reshape, shape: [2, 10, 3, 4, 8]}
          - perm: {op: permute, dims: [2, 0, 3, 1, 4]}
          - parts: {op: split, sizes: 1, dim: 0}
          - q: {op: reshape, from: "parts[0]", shape: [2, 4, 10, 8]}
          - k: {op: reshape, from: "parts[1]", shape: [2, 4, 10, 8]}
          - v: {op: reshape, from: "parts[2]", shape: [2, 4, 10, 8]}
          - kt: {op: transpose, from: k, dim0: 2, dim1: 3}
          - s: {op: matmul, from: [q, kt]}
          - p: {op: softmax}
          - o: {op: matmul, from: [p, v]}
          - merge: {op: permute, dims: [0, 2, 1, 3]}
          - flat: {op: reshape, shape: [2, 10, 32]}
          - out: {op: linear, out: 32}
        outputs: {y: out}
    """, "manual.yaml")
    assert static(op)[1].macs == static(manual)[1].macs


def test_sdpa_and_recurrent_macs_by_hand(write_spec):
    path = write_spec("""
        archc: 1
        name: r
        inputs: {q: {shape: [2, 3, 5, 4]}, k: {shape: [2, 3, 7, 4]}, v: {shape: [2, 3, 7, 6]}, s: {shape: [2, 9, 4]}}
        layers:
          - a: {op: sdpa, from: [q, k, v]}
          - l: {op: lstm, from: s, hidden: 6, layers: 2, bidirectional: true}
          - g: {op: gru, from: s, hidden: 5}
        outputs: {y: a, z: "l[0]", w: "g[0]"}
    """)
    c = {n.path: n for n in static(path)[1].nodes}
    assert c["a"].macs == 2 * 3 * 5 * 7 * (4 + 6)
    assert c["l"].macs == 2 * 2 * 9 * 24 * (4 + 6) + 2 * 2 * 9 * 24 * (12 + 6)
    assert c["g"].macs == 2 * 9 * 15 * (4 + 5)


# ---------------------------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------------------------


def test_static_memory_liveness_by_hand(write_spec):
    path = write_spec("""
        archc: 1
        name: m
        inputs: {x: {shape: [1, 100]}}
        layers:
          - a: {op: linear, out: 1000}
          - r: {op: relu}
          - v: {op: reshape, shape: [10, 100]}
          - b: {op: linear, out: 10}
          - c: {op: add, from: [b, b]}
        outputs: {y: c}
    """)
    _, p = static(path)
    assert p.weights_bytes == 4 * (100 * 1000 + 1000 + 100 * 10 + 10)
    # input 400 B lives throughout; at r: a (4000) + r (4000); v is a view of r;
    # at b: r (4000) + b (400); at c: b + c.
    assert p.peak_activation_bytes == 400 + 4000 + 4000 and p.peak_at == "r"
    _, p16 = static(path, dtype="bfloat16")
    assert p16.peak_activation_bytes == p.peak_activation_bytes // 2 and p16.weights_bytes == p.weights_bytes // 2


# ---------------------------------------------------------------------------------------------
# scale: GPT-3 175B on the meta device
# ---------------------------------------------------------------------------------------------


@pytest.mark.timeout(120)  # its speed is measured in benchmarks/profile_overhead.py
def test_gpt3_175b_profiles_statically():
    path = SPECS / "gpt3_175b.yaml"
    _, p = static(path)
    assert p.params == pytest.approx(175e9, rel=0.01)
    assert p.symbols == {"B": 1, "T": 2048}
    # forward FLOPs per token ~ 2 x parameters (+ attention over the 2048-token context)
    assert p.per_token["flops"] == pytest.approx(2 * p.params, rel=0.05)
    assert p.flops_causal < p.flops


def test_static_profile_is_torch_free():
    code = ("import sys; from archc.pipeline import run, Options; from archc.profile import analyze;"
            "g = run('specs/gpt3_175b.yaml', Options({}, None, None)).graph; p = analyze(g);"
            "print(p.params, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    n, torch_loaded = out.stdout.split()
    assert int(n) > 1.7e11 and torch_loaded == "False"
