"""Op traits: every built-in op declares what lint, codegen, init, profile and `archc graph` read.

The expected sets are the tables that lived in those consumers before the traits did
(lint `WEIGHTED_FAMILIES`, `ACTIVATIONS`, `MERGE_OPS`, `BIASED`, `_WIDTH_ATTR`, `_HEAD_TAIL`,
`POSITIONAL`, the ONNX table; codegen's module classes; the cost rules' `view`), written out here
so that a changed trait is a reviewed change.
"""
from __future__ import annotations

import pytest

from archc.ops import OPS, OnnxLimit, Traits, load_ops, register

load_ops()

CONV = {f"conv{n}d" for n in (1, 2, 3)}
CONV_T = {f"conv_transpose{n}d" for n in (1, 2, 3)}


def ops_where(pred) -> set[str]:
    return {name for name, op in OPS.items() if pred(op.traits) and builtin(op)}


def builtin(op) -> bool:
    return op.infer.__module__.startswith("archc.ops.")


def test_weighted_layers_are_conv_linear_attention_recurrent():
    assert ops_where(lambda t: t.weighted) == CONV | CONV_T | {"linear", "attention", "sdpa", "rnn", "lstm", "gru"}


def test_widths_and_biases():
    widths = {n: OPS[n].traits.width for n in ops_where(lambda t: t.width is not None)}
    assert widths == {**{op: "out" for op in CONV | CONV_T | {"linear"}}, "embedding": "dim",
                      "patch_embedding": "dim", "rnn": "hidden", "lstm": "hidden", "gru": "hidden"}
    assert {n: OPS[n].traits.bias for n in ops_where(lambda t: t.bias is not None)} == {
        op: "bias" for op in CONV | CONV_T | {"linear"}}
    assert ops_where(lambda t: t.width_dim == -1 and t.width is not None) == {
        "linear", "embedding", "patch_embedding", "rnn", "lstm", "gru"}


def test_roles():
    by_role: dict[str, set[str]] = {}
    for name in ops_where(lambda t: True):
        by_role.setdefault(OPS[name].traits.role, set()).add(name)
    assert by_role["activation"] == {"relu", "gelu", "silu", "sigmoid", "tanh", "leaky_relu", "hardswish", "mish",
                                     "relu6", "hardtanh", "hardsigmoid", "elu", "selu", "celu", "softplus",
                                     "softsign", "quick_gelu", "prelu", "glu"}
    assert by_role["probability"] == {"softmax"}
    assert by_role["merge"] == {"add", "mul", "concat", "sub", "div", "pow", "minimum", "maximum", "where",
                                "eq", "ne", "lt", "le", "gt", "ge"}
    assert by_role["norm"] == {"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm"}
    assert by_role["view"] == {"reshape", "flatten", "unflatten", "permute", "transpose", "squeeze", "unsqueeze"}
    assert by_role["pass"] == {"identity", "dropout", "drop_path"}


def test_sequence_traits():
    assert ops_where(lambda t: t.positional) == {"positional_embedding", "pos_embedding_param", "rnn", "lstm", "gru", "cumsum",
                                                 "conv1d"}
    assert {n: OPS[n].traits.attention for n in ops_where(lambda t: t.attention)} == {"attention": "layer",
                                                                                    "sdpa": "core"}
    assert ops_where(lambda t: t.batch_stats) == {"batch_norm"}
    assert {n: OPS[n].traits.vocab for n in ops_where(lambda t: t.vocab)} == {"embedding": "num"}


def test_codegen_and_memory_traits():
    assert ops_where(lambda t: t.inplace) == {"relu", "add"}
    assert ops_where(lambda t: t.overwritable) == CONV | CONV_T | {"linear", "batch_norm", "instance_norm",
                                                                   "layer_norm", "group_norm", "add"}
    assert ops_where(lambda t: t.init) == CONV | CONV_T | {"linear", "embedding", "positional_embedding",
                                                           "patch_embedding", "attention"}
    assert ops_where(lambda t: t.aliases) == {"reshape", "permute", "transpose", "flatten", "unflatten", "split",
                                              "select", "slice", "identity", "dropout", "drop_path", "squeeze", "unsqueeze",
                                              "expand", "param", "constant"}


def test_onnx_limits():
    got = {n: [(lim.min_opset, lim.attr) for lim in OPS[n].traits.onnx] for n in ops_where(lambda t: t.onnx)}
    assert got == {**{c: [(19, "padding_mode")] for c in CONV}, "layer_norm": [(17, None)], "mish": [(18, None)],
                   "hardswish": [(14, None)], "upsample": [(11, "mode"), (10, None)],
                   "interpolate": [(11, "mode"), (10, None)], "sdpa": [(None, None)]}
    from archc.ir.types import TensorType
    four, five = TensorType((2, 3, 5, 4)), TensorType((2, 1, 3, 5, 4))
    (rank,) = OPS["sdpa"].traits.onnx
    assert rank.inputs([five] * 3) and not rank.inputs([four] * 3)
    circular = OPS["conv2d"].traits.onnx[0]
    attrs = OPS["conv2d"].attrs
    assert circular.applies(attrs(out=8, kernel=3, padding_mode="circular"))
    assert not circular.applies(attrs(out=8, kernel=3))
    nearest, resize = OPS["upsample"].traits.onnx
    assert not nearest.applies(OPS["upsample"].attrs(scale_factor=2))
    assert nearest.applies(OPS["upsample"].attrs(scale_factor=2, mode="bilinear"))
    assert resize.applies(OPS["upsample"].attrs(scale_factor=2))


def test_picture_defaults_to_the_family():
    assert all(op.traits.picture == op.family for op in OPS.values() if builtin(op))


def test_register_fills_in_the_picture_and_keeps_a_declared_one(monkeypatch):
    monkeypatch.setattr("archc.ops._registry.OPS", dict(OPS))
    from archc.ops import _registry

    kw = dict(infer=lambda ctx, a, ins: ins[0], lower=lambda a, ins, out: None, doc="", example="{op: t}",
              family="fam")
    assert register("t_plain", **kw).traits.picture == "fam"
    assert register("t_drawn", traits=Traits(picture="norm"), **kw).traits.picture == "norm"
    assert "t_plain" in _registry.OPS and "t_plain" not in OPS


def test_traits_reject_unknown_roles():
    with pytest.raises(ValueError, match="role"):
        Traits(role="activations")
    with pytest.raises(ValueError, match="attention"):
        Traits(attention="self")
    assert Traits(onnx=[OnnxLimit(9, "w", "h")]).onnx == (OnnxLimit(9, "w", "h"),)
