"""The embedding family: embedding, positional_embedding (learned / sinusoidal), pos_embedding_param,
class_token, patch_embedding; shapes against real runs, state_dict keys through `archc.compile`, and
a tiny ViT that matches torchvision's VisionTransformer key for key and number for number."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import archc
from archc.ir.dims import UnboundSymbol, dim_str, equal, evaluate, free_symbols, sym
from archc.ir.types import ShapeError, TensorType
from archc.ops import OPS, Call, InferContext, load_ops

load_ops()
B, T, H, W = sym("B"), sym("T"), sym("H"), sym("W")


from tests.ops._support import Ctx  # noqa: E402


def types_of(shapes, dtypes=None):
    return [TensorType(tuple(s), (dtypes or ["float32"] * len(shapes))[i]) for i, s in enumerate(shapes)]


def infer(name, attrs, shapes, dtypes=None, ctx=None):
    op = OPS[name]
    return op.infer(ctx or Ctx(), op.attrs.model_validate(attrs), types_of(shapes, dtypes))


def lowered(name, attrs, tensors):
    """(inferred type, lowering, result of running it on `tensors`)."""
    op = OPS[name]
    a = op.attrs.model_validate(attrs)
    types = [TensorType(tuple(t.shape), str(t.dtype).removeprefix("torch.")) for t in tensors]
    out = op.infer(Ctx(), a, types)
    low = op.lower(a, types, out)
    with torch.no_grad():
        if isinstance(low, Call):
            res = low.fn(*tensors, *low.params.values(), *low.extra_args, **low.kwargs)
        else:
            res = low.eval()(*tensors)
    return out, low, res


def code(excinfo):
    return excinfo.value.code


def compile_spec(tmp_path, text, name="spec.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return archc.compile(p)


# ---------------------------------------------------------------------------------------------
# embedding
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 5), (7,), (2, 3, 4)])
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32])
def test_embedding_runs(shape, dtype):
    ids = torch.randint(0, 10, shape, dtype=dtype)
    out, mod, res = lowered("embedding", {"num": 10, "dim": 6}, [ids])
    assert isinstance(mod, nn.Embedding)
    assert tuple(out.shape) == tuple(res.shape) == shape + (6,) and out.dtype == "float32"
    assert torch.equal(res, mod.weight[ids.long()])


def test_embedding_symbolic_and_params():
    out = infer("embedding", {"num": 100, "dim": 8}, [(B, T)], ["int64"])
    assert out.shape == (B, T, 8)
    assert OPS["embedding"].params(OPS["embedding"].attrs.model_validate({"num": 100, "dim": 8}), types_of([(B, T)], ["int64"])) \
        == {"weight": (100, 8)}


def test_embedding_padding_idx():
    ids = torch.tensor([[0, 1, 2]])
    _, mod, res = lowered("embedding", {"num": 4, "dim": 3, "padding_idx": 1}, [ids])
    assert mod.padding_idx == 1 and torch.equal(res[0, 1], torch.zeros(3))
    with pytest.raises(ShapeError) as e:
        infer("embedding", {"num": 4, "dim": 3, "padding_idx": 4}, [(2, 3)], ["int64"])
    assert code(e) == "ARC204"


@pytest.mark.parametrize("dtype", ["float32", "bool"])
def test_embedding_needs_integer_ids(dtype):
    with pytest.raises(ShapeError) as e:
        infer("embedding", {"num": 4, "dim": 3}, [(2, 3)], [dtype])
    assert code(e) == "ARC202" and dtype in str(e.value)


# ---------------------------------------------------------------------------------------------
# positional_embedding
# ---------------------------------------------------------------------------------------------


def test_learned_positions_from_features():
    x = torch.randn(3, 5, 8)
    out, mod, res = lowered("positional_embedding", {"max_len": 16}, [x])
    assert tuple(out.shape) == tuple(res.shape) == (1, 5, 8)
    assert dict(mod.state_dict()).keys() == {"weight"} and mod.weight.shape == (16, 8)
    assert torch.equal(res[0], mod.weight[:5])


def test_learned_positions_from_ids_with_offset():
    ids = torch.randint(0, 9, (2, 4))
    out, mod, res = lowered("positional_embedding", {"max_len": 10, "dim": 6, "offset": 2}, [ids])
    assert tuple(out.shape) == tuple(res.shape) == (1, 4, 6) and out.dtype == "float32"
    assert torch.equal(res[0], mod.weight[2:6])


def test_positions_are_dynamic_in_T():
    _, mod, _ = lowered("positional_embedding", {"max_len": 16}, [torch.randn(1, 3, 4)])
    for t in (1, 7, 16):
        assert mod(torch.randn(2, t, 4)).shape == (1, t, 4)
    assert infer("positional_embedding", {"max_len": 16}, [(B, T, 4)]).shape == (1, T, 4)


def test_positional_errors():
    with pytest.raises(ShapeError) as e:  # ids need dim
        infer("positional_embedding", {"max_len": 8}, [(2, 3)], ["int64"])
    assert code(e) == "ARC204" and "dim" in str(e.value)
    with pytest.raises(ShapeError) as e:  # static T over max_len
        infer("positional_embedding", {"max_len": 8}, [(2, 9, 4)])
    assert code(e) == "ARC204" and "8" in str(e.value) and "9" in str(e.value)
    with pytest.raises(ShapeError) as e:  # offset counts
        infer("positional_embedding", {"max_len": 8, "offset": 2}, [(2, 7, 4)])
    assert code(e) == "ARC204"
    with pytest.raises(ShapeError) as e:  # dim contradicts the features
        infer("positional_embedding", {"max_len": 8, "dim": 5}, [(2, 3, 4)])
    assert code(e) == "ARC204"
    with pytest.raises(ShapeError) as e:
        infer("positional_embedding", {"max_len": 8, "dim": 5}, [(2, 3, 4, 5)])
    assert code(e) == "ARC205"
    assert infer("positional_embedding", {"max_len": 8, "dim": 4}, [(2, 3, 4)]).shape == (1, 3, 4)


@pytest.mark.parametrize("dim", [8, 7])
def test_sinusoidal_values(dim):
    x = torch.randn(2, 6, dim)
    out, mod, res = lowered("positional_embedding", {"max_len": 32, "kind": "sinusoidal", "offset": 3}, [x])
    assert tuple(res.shape) == tuple(out.shape) == (1, 6, dim)
    assert list(mod.parameters()) == [] and list(mod.buffers()) == [] and mod.state_dict() == {}
    assert OPS["positional_embedding"].params(
        OPS["positional_embedding"].attrs.model_validate({"max_len": 32, "kind": "sinusoidal"}), types_of([(2, 6, dim)])) == {}
    want = torch.empty(6, dim)
    for t in range(6):
        pos = t + 3
        for j in range(dim):
            i = j // 2
            angle = pos / (10000 ** (2 * i / dim))
            want[t, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    torch.testing.assert_close(res[0], want, atol=1e-5, rtol=1e-5)


def test_sinusoidal_follows_input_dtype():
    x = torch.randn(1, 3, 4, dtype=torch.float64)
    out, _, res = lowered("positional_embedding", {"max_len": 8, "kind": "sinusoidal"}, [x])
    assert out.dtype == "float64" and res.dtype == torch.float64


# ---------------------------------------------------------------------------------------------
# pos_embedding_param, class_token
# ---------------------------------------------------------------------------------------------


def test_pos_embedding_param_adds():
    x = torch.randn(2, 5, 8)
    out, low, res = lowered("pos_embedding_param", {"length": 5, "init_std": 0.5}, [x])
    assert isinstance(low, Call) and list(low.params) == [""]
    p = low.params[""]
    assert isinstance(p, nn.Parameter) and p.shape == (1, 5, 8) and 0.2 < float(p.detach().std()) < 0.8
    assert torch.equal(res, x + p) and tuple(out.shape) == (2, 5, 8)


def test_pos_embedding_param_length():
    with pytest.raises(ShapeError) as e:
        infer("pos_embedding_param", {"length": 5}, [(2, 6, 8)])
    assert code(e) == "ARC204" and "5" in str(e.value) and "6" in str(e.value)
    ctx = Ctx()
    n = (H // 16) * (W // 16) + 1
    assert infer("pos_embedding_param", {"length": 197}, [(B, n, 768)], ctx=ctx).shape == (B, n, 768)
    assert len(ctx.constraints) == 1 and equal(ctx.constraints[0][0], n) and ctx.constraints[0][1] == 197


def test_class_token():
    x = torch.randn(3, 4, 8)
    out, low, res = lowered("class_token", {}, [x])
    assert tuple(out.shape) == tuple(res.shape) == (3, 5, 8)
    tok = low.params[""]
    assert tok.shape == (1, 1, 8) and torch.equal(tok, torch.zeros(1, 1, 8))
    assert torch.equal(res[:, 1:], x)
    with torch.no_grad():
        tok.fill_(2.0)
        res = low.fn(x, tok)
    assert torch.equal(res[:, 0], torch.full((3, 8), 2.0))
    assert infer("class_token", {}, [(B, T, 8)]).shape == (B, T + 1, 8)


def test_node_owned_params_are_keyed_by_node_path(tmp_path):
    gm = compile_spec(tmp_path, """
archc: 1
name: tokens
symbols:
  B: {example: 2}
inputs:
  x: {shape: [B, 4, 8]}
blocks:
  enc:
    layers:
      - pos_embedding: {op: pos_embedding_param, length: 5}
layers:
  - class_token: {op: class_token}
  - encoder: {block: enc}
outputs:
  y: encoder
""")
    sd = gm.state_dict()
    assert set(sd) == {"class_token", "encoder.pos_embedding"}
    assert sd["class_token"].shape == (1, 1, 8) and sd["encoder.pos_embedding"].shape == (1, 5, 8)
    x = torch.randn(2, 4, 8)
    y = gm(x)
    want = torch.cat([sd["class_token"].expand(2, -1, -1), x], 1) + sd["encoder.pos_embedding"]
    torch.testing.assert_close(y, want)


# ---------------------------------------------------------------------------------------------
# patch_embedding
# ---------------------------------------------------------------------------------------------


def test_patch_embedding_against_conv():
    x = torch.randn(2, 3, 8, 12)
    out, mod, res = lowered("patch_embedding", {"dim": 16, "patch": 4}, [x])
    assert tuple(out.shape) == tuple(res.shape) == (2, 6, 16)
    assert {k: tuple(v.shape) for k, v in mod.state_dict().items()} == {"proj.weight": (16, 3, 4, 4), "proj.bias": (16,)}
    want = nn.functional.conv2d(x, mod.proj.weight, mod.proj.bias, stride=4).flatten(2).transpose(1, 2)
    torch.testing.assert_close(res, want)
    _, mod, _ = lowered("patch_embedding", {"dim": 16, "patch": 4, "bias": False}, [x])
    assert set(mod.state_dict()) == {"proj.weight"}


def test_patch_embedding_divisibility():
    ctx = Ctx()
    out = infer("patch_embedding", {"dim": 32, "patch": 16}, [(B, 3, H, W)], ctx=ctx)
    assert out.shape == (B, (H // 16) * (W // 16), 32)
    assert len(ctx.constraints) == 2  # H and W divisible by 16
    assert all(equal(a, (s // 16) * 16) and equal(b, s) for (a, b, *_), s in zip(ctx.constraints, (H, W)))
    with pytest.raises(ShapeError) as e:
        infer("patch_embedding", {"dim": 32, "patch": 16}, [(2, 3, 224, 230)])
    assert code(e) == "ARC201"


def test_patch_embedding_constraint_is_derived(tmp_path):
    p = tmp_path / "pe.yaml"
    p.write_text("""
archc: 1
name: pe
symbols:
  B: {example: 2}
  H: {example: 32}
  W: {example: 32}
inputs:
  x: {shape: [B, 3, H, W]}
layers:
  - patch_embed: {op: patch_embedding, dim: 8, patch: 8}
outputs:
  y: patch_embed
""")
    g = archc.infer(p)
    text = g.pretty()
    assert "H % 8 == 0" in text and "W % 8 == 0" in text, text
    gm = archc.compile(p)
    assert gm(torch.randn(1, 3, 16, 24)).shape == (1, 6, 8)


# ---------------------------------------------------------------------------------------------
# A tiny ViT, key for key and number for number against torchvision
# ---------------------------------------------------------------------------------------------

VIT = """
archc: 1
name: tiny_vit
params: {dim: 32, heads: 4, mlp: 64, layers: 2, classes: 10, patch: 8, image: 32}
symbols:
  B: {example: 2, min: 1}
  H: {example: 32}
  W: {example: 32}
inputs:
  image: {shape: [B, 3, H, W]}
blocks:
  encoder_block:
    layers:
      - ln_1: {op: layer_norm, eps: 1.0e-6}
      - self_attention: {op: attention, heads: "${heads}", layout: torch}
      - res_1: {op: add, from: [self_attention, x]}
      - ln_2: {op: layer_norm, eps: 1.0e-6}
      - mlp:
          seq:
            - {op: linear, out: "${mlp}"}
            - {op: gelu}
            - {op: dropout, p: 0.0}
            - {op: linear, out: "${dim}"}
      - res_2: {op: add, from: [mlp, res_1]}
  encoder:
    layers:
      - pos_embedding: {op: pos_embedding_param, length: "${(image // patch) ** 2 + 1}"}
      - layers: {block: encoder_block, repeat: "${layers}", repeat_names: "encoder_layer_${i}"}
      - ln: {op: layer_norm, eps: 1.0e-6}
  heads:
    layers:
      - head: {op: linear, out: "${classes}"}
layers:
  - conv_proj: {op: conv2d, out: "${dim}", kernel: "${patch}", stride: "${patch}"}
  - patches: {op: flatten, start_dim: 2}
  - tokens: {op: transpose, dim0: 1, dim1: 2}
  - class_token: {op: class_token}
  - encoder: {block: encoder}
  - cls: {op: select, dim: 1, index: 0}
  - heads: {block: heads}
outputs:
  logits: {from: heads, kind: logits}
"""


def test_tiny_vit_matches_torchvision(tmp_path):
    from torchvision.models import VisionTransformer

    gm = compile_spec(tmp_path, VIT, "vit.yaml")
    ref = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=64,
                            num_classes=10).eval()
    ref_sd = ref.state_dict()
    assert {k: tuple(v.shape) for k, v in gm.state_dict().items()} == {k: tuple(v.shape) for k, v in ref_sd.items()}
    with torch.no_grad():  # random, non-zero everything (torchvision zero-inits the head)
        for v in ref_sd.values():
            v.copy_(torch.randn_like(v) * 0.2)
    gm.load_state_dict(ref_sd)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(gm(x), ref(x), atol=1e-5, rtol=1e-4)
    # the pos_embedding pins the image size: a derived constraint on H and W
    assert "requires" in archc.infer(tmp_path / "vit.yaml").pretty()
