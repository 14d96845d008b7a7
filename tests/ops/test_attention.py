"""attention and sdpa: numerics against nn.MultiheadAttention (layout torch) and a hand-written
reference (layout archc: packed, separate projections, renamed submodules, cross-attention), masks
(padding, additive, causal and combinations), errors, and tiny GPT-2 / BERT specs that match the
Hugging Face models key for key and number for number."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import archc
from archc.ir.dims import UnboundSymbol, dim_str, equal, evaluate, free_symbols, sym
from archc.ir.types import ShapeError, TensorType
from archc.ops import OPS, Call, InferContext, load_ops

load_ops()
B, T, S = sym("B"), sym("T"), sym("S")
TORCH_DT = {torch.float32: "float32", torch.float64: "float64", torch.bool: "bool", torch.int64: "int64"}


from tests.ops._support import Ctx  # noqa: E402


def types_of(tensors):
    return [TensorType(tuple(t.shape), TORCH_DT[t.dtype]) for t in tensors]


def build(attrs, *tensors, name="attention"):
    op = OPS[name]
    a = op.attrs.model_validate(attrs)
    types = types_of(tensors)
    out = op.infer(Ctx(), a, types)
    low = op.lower(a, types, out)
    return out, low


def run(attrs, *tensors, name="attention"):
    out, low = build(attrs, *tensors, name=name)
    with torch.no_grad():
        res = low.fn(*tensors, **low.kwargs) if isinstance(low, Call) else low.eval()(*tensors)
    assert tuple(res.shape) == tuple(out.shape)
    return low, res


def infer(attrs, shapes, dtypes=None, ctx=None, name="attention"):
    op = OPS[name]
    types = [TensorType(tuple(s), (dtypes or ["float32"] * len(shapes))[i]) for i, s in enumerate(shapes)]
    return op.infer(ctx or Ctx(), op.attrs.model_validate(attrs), types)


def code(e):
    return e.value.code


def reference(x, mem, wq, bq, wk, bk, wv, bv, wo, bo, heads, mask=None):
    """Plain multi-head attention: softmax(q k^T / sqrt(hd) + mask) v, then the output projection.
    `mask` is additive, broadcastable to [B, heads, T, S]."""
    q, k, v = F.linear(x, wq, bq), F.linear(mem, wk, bk), F.linear(mem, wv, bv)
    Bn, Tn, D = q.shape
    hd = D // heads

    def split(t):
        return t.reshape(t.shape[0], t.shape[1], heads, hd).permute(0, 2, 1, 3)

    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
    if mask is not None:
        scores = scores + mask
    o = (scores.softmax(-1) @ v).permute(0, 2, 1, 3).reshape(Bn, Tn, D)
    return F.linear(o, wo, bo) if wo is not None else o


def randomize(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3)


# ---------------------------------------------------------------------------------------------
# layout torch against nn.MultiheadAttention
# ---------------------------------------------------------------------------------------------


def torch_pair(D=16, heads=4, kdim=None, bias=True, *inputs, **attrs):
    mha = nn.MultiheadAttention(D, heads, bias=bias, batch_first=True, kdim=kdim, vdim=kdim).eval()
    randomize(mha)
    _, mod = build({"heads": heads, "layout": "torch", "bias": bias, **attrs}, *inputs)
    assert set(mod.state_dict()) == set(mha.state_dict())
    mod.load_state_dict(mha.state_dict())
    return mha, mod.eval()


@pytest.mark.parametrize("bias", [True, False])
def test_torch_layout_matches_mha(bias):
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16)
    mha, mod = torch_pair(16, 4, None, bias, x)
    with torch.no_grad():
        torch.testing.assert_close(mod(x), mha(x, x, x, need_weights=False)[0], atol=1e-5, rtol=1e-5)


def test_torch_layout_padding_mask_is_inverted_key_padding_mask():
    torch.manual_seed(1)
    x = torch.randn(3, 6, 16)
    keep = torch.ones(3, 6, dtype=torch.bool)
    keep[0, 4:] = False
    keep[2, 1] = False
    mha, mod = torch_pair(16, 4, None, True, x, x, keep)
    with torch.no_grad():
        want = mha(x, x, x, key_padding_mask=~keep, need_weights=False)[0]
        torch.testing.assert_close(mod(x, x, keep), want, atol=1e-5, rtol=1e-5)
        # an integer [B, S] mask (HF's attention_mask: 1 = attend) means the same
        _, mod_i = build({"heads": 4, "layout": "torch"}, x, x, keep.long())
        mod_i.load_state_dict(mha.state_dict())
        torch.testing.assert_close(mod_i.eval()(x, x, keep.long()), want, atol=1e-5, rtol=1e-5)


def test_torch_layout_causal_matches_triangular_mask():
    torch.manual_seed(2)
    x = torch.randn(2, 7, 16)
    mha, mod = torch_pair(16, 4, None, True, x, causal=True)
    blocked = torch.triu(torch.ones(7, 7, dtype=torch.bool), 1)  # MHA: True = not allowed
    with torch.no_grad():
        torch.testing.assert_close(mod(x), mha(x, x, x, attn_mask=blocked, need_weights=False)[0], atol=1e-5, rtol=1e-5)


def test_torch_layout_causal_and_padding_combined():
    torch.manual_seed(3)
    x = torch.randn(2, 6, 16)
    keep = torch.ones(2, 6, dtype=torch.bool)
    keep[1, 2] = False
    keep[0, 5] = False
    mha, mod = torch_pair(16, 4, None, True, x, x, keep, causal=True)
    blocked = torch.triu(torch.ones(6, 6, dtype=torch.bool), 1)
    with torch.no_grad():
        want = mha(x, x, x, attn_mask=blocked, key_padding_mask=~keep, need_weights=False)[0]
        torch.testing.assert_close(mod(x, x, keep), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_torch_layout_float_mask(causal):
    torch.manual_seed(4)
    x = torch.randn(2, 5, 16)
    add = torch.randn(2, 4, 5, 5)
    mha, mod = torch_pair(16, 4, None, True, x, x, add, causal=causal)
    mha_mask = add.reshape(8, 5, 5)
    if causal:
        mha_mask = mha_mask.masked_fill(torch.triu(torch.ones(5, 5, dtype=torch.bool), 1), float("-inf"))
    with torch.no_grad():
        torch.testing.assert_close(mod(x, x, add), mha(x, x, x, attn_mask=mha_mask, need_weights=False)[0],
                                   atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kdim", [16, 12])
def test_torch_layout_cross_attention(kdim):
    torch.manual_seed(5)
    x, mem = torch.randn(2, 5, 16), torch.randn(2, 9, kdim)
    mha, mod = torch_pair(16, 4, kdim, True, x, mem, packed=False)
    keys = set(mod.state_dict())
    assert ("in_proj_weight" in keys) == (kdim == 16) and ("k_proj_weight" in keys) == (kdim != 16)
    with torch.no_grad():
        torch.testing.assert_close(mod(x, mem), mha(x, mem, mem, need_weights=False)[0], atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# layout archc against the hand-written reference
# ---------------------------------------------------------------------------------------------


def test_archc_packed_self_attention():
    torch.manual_seed(6)
    x = torch.randn(2, 5, 12)
    mod, res = run({"heads": 3}, x)
    randomize(mod)
    assert {k: tuple(v.shape) for k, v in mod.state_dict().items()} == {
        "qkv.weight": (36, 12), "qkv.bias": (36,), "out.weight": (12, 12), "out.bias": (12,)}
    wq, wk, wv = mod.qkv.weight.chunk(3)
    bq, bk, bv = mod.qkv.bias.chunk(3)
    with torch.no_grad():
        want = reference(x, x, wq, bq, wk, bk, wv, bv, mod.out.weight, mod.out.bias, 3)
        torch.testing.assert_close(mod(x), want, atol=1e-5, rtol=1e-5)


def test_archc_names_unpacked_no_out_proj_with_mask():
    """BERT's layout: attention.self.{query,key,value}; the output projection is a separate node."""
    torch.manual_seed(7)
    x = torch.randn(2, 6, 16)
    keep = torch.ones(2, 6, dtype=torch.long)
    keep[0, 3:] = 0
    attrs = {"heads": 4, "packed": False, "out_proj": False, "proj_names": {"q": "self.query", "k": "self.key", "v": "self.value"}}
    mod, _ = run(attrs, x, x, keep)
    randomize(mod)
    assert set(mod.state_dict()) == {f"self.{n}.{p}" for n in ("query", "key", "value") for p in ("weight", "bias")}
    s = mod.get_submodule("self")
    additive = torch.zeros(2, 1, 1, 6).masked_fill(keep[:, None, None, :] == 0, float("-inf"))
    with torch.no_grad():
        want = reference(x, x, s.query.weight, s.query.bias, s.key.weight, s.key.bias, s.value.weight, s.value.bias,
                         None, None, 4, additive)
        torch.testing.assert_close(mod(x, x, keep), want, atol=1e-5, rtol=1e-5)


def test_archc_gpt2_names_causal():
    torch.manual_seed(8)
    x = torch.randn(2, 5, 16)
    mod, _ = run({"heads": 2, "causal": True, "proj_names": {"qkv": "c_attn", "out": "c_proj"}}, x)
    randomize(mod)
    assert set(mod.state_dict()) == {"c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias"}
    wq, wk, wv = mod.c_attn.weight.chunk(3)
    bq, bk, bv = mod.c_attn.bias.chunk(3)
    tri = torch.zeros(5, 5).masked_fill(torch.triu(torch.ones(5, 5, dtype=torch.bool), 1), float("-inf"))
    with torch.no_grad():
        want = reference(x, x, wq, bq, wk, bk, wv, bv, mod.c_proj.weight, mod.c_proj.bias, 2, tri)
        torch.testing.assert_close(mod(x), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
def test_archc_cross_attention(bias):
    torch.manual_seed(9)
    x, mem = torch.randn(2, 4, 16), torch.randn(2, 7, 10)
    keep = torch.rand(2, 7) > 0.3
    keep[:, 0] = True
    mod, _ = run({"heads": 4, "packed": False, "bias": bias}, x, mem, keep)
    randomize(mod)
    sd = {k: tuple(v.shape) for k, v in mod.state_dict().items()}
    want_sd = {"q.weight": (16, 16), "k.weight": (16, 10), "v.weight": (16, 10), "out.weight": (16, 16)}
    if bias:
        want_sd.update({"q.bias": (16,), "k.bias": (16,), "v.bias": (16,), "out.bias": (16,)})
    assert sd == want_sd
    additive = torch.zeros(2, 1, 1, 7).masked_fill(~keep[:, None, None, :], float("-inf"))
    g = {n: getattr(mod, n) for n in ("q", "k", "v", "out")}
    b = {n: g[n].bias for n in g}
    with torch.no_grad():
        want = reference(x, mem, g["q"].weight, b["q"], g["k"].weight, b["k"], g["v"].weight, b["v"],
                         g["out"].weight, b["out"], 4, additive)
        torch.testing.assert_close(mod(x, mem, keep), want, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(mod.eval()(x, mem, keep), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attrs, n_in", [
    ({"heads": 2}, 1),
    ({"heads": 2, "bias": False, "out_proj": False}, 1),
    ({"heads": 2, "packed": False, "proj_names": {"q": "a.b.q", "k": "a.b.k", "v": "v2", "out": "o.p"}}, 2),
    ({"heads": 2, "layout": "torch"}, 1),
    ({"heads": 2, "layout": "torch", "packed": False, "bias": False}, 2),
])
def test_declared_params_match_module(attrs, n_in):
    ins = [torch.randn(2, 3, 8), torch.randn(2, 4, 6)][:n_in]
    op = OPS["attention"]
    a = op.attrs.model_validate(attrs)
    types = types_of(ins)
    declared = op.params(a, types)
    _, mod = build(attrs, *ins)
    assert {k: tuple(v.shape) for k, v in mod.named_parameters()} == declared


def test_dropout_only_in_training():
    torch.manual_seed(10)
    x = torch.randn(2, 8, 16)
    _, mod = build({"heads": 4, "dropout": 0.5}, x)
    with torch.no_grad():
        mod.eval()
        a, b = mod(x), mod(x)
        assert torch.equal(a, b)
        mod.train()
        c = mod(x)
    assert not torch.allclose(a, c)


# ---------------------------------------------------------------------------------------------
# shapes and errors
# ---------------------------------------------------------------------------------------------


def test_symbolic_shapes_and_mask_constraints():
    ctx = Ctx()
    assert infer({"heads": 4}, [(B, T, 16)], ctx=ctx).shape == (B, T, 16)
    assert ctx.constraints == []
    out = infer({"heads": 4, "packed": False}, [(B, T, 16), (sym("B2"), S, 8), (sym("B3"), sym("S2"))],
                ["float32", "float32", "bool"], ctx=ctx)
    assert out.shape == (B, T, 16)
    whats = [w for _, _, w, _ in ctx.constraints]
    assert len(whats) == 3 and any("batch of x and memory" in w for w in whats)
    ctx = Ctx()
    infer({"heads": 4}, [(B, T, 16), (B, T, 16), (B, 1, T, T)], ["float32", "float32", "float32"], ctx=ctx)
    assert ctx.constraints == []


def test_heads_must_divide_dim():
    with pytest.raises(ShapeError) as e:
        infer({"heads": 5}, [(2, 3, 16)])
    assert code(e) == "ARC204" and "16" in str(e.value) and "5" in str(e.value)


def test_attention_errors():
    with pytest.raises(ShapeError) as e:  # cross-attention cannot be packed
        infer({"heads": 2}, [(2, 3, 8), (2, 4, 8)])
    assert code(e) == "ARC204" and "packed" in str(e.value)
    with pytest.raises(ShapeError) as e:  # packed + mask: the second input must be x
        infer({"heads": 2}, [(2, 3, 8), (2, 4, 8), (2, 4)], ["float32", "float32", "bool"])
    assert code(e) == "ARC204"
    with pytest.raises(ShapeError) as e:
        infer({"heads": 2}, [(2, 3)])
    assert code(e) == "ARC205"
    with pytest.raises(ShapeError) as e:
        infer({"heads": 2}, [(2, 3, 8)], ["int64"])
    assert code(e) == "ARC202"
    with pytest.raises(ShapeError) as e:  # symbolic features
        infer({"heads": 2}, [(2, 3, T)])
    assert code(e) == "ARC204"
    with pytest.raises(ShapeError) as e:  # mask batch mismatch
        infer({"heads": 2}, [(2, 3, 8), (2, 3, 8), (3, 3)], ["float32", "float32", "bool"])
    assert code(e) == "ARC201"
    with pytest.raises(ShapeError) as e:  # float mask that does not broadcast
        infer({"heads": 2}, [(2, 3, 8), (2, 3, 8), (2, 3, 3, 3)], ["float32", "float32", "float32"])
    assert code(e) == "ARC201"
    with pytest.raises(ShapeError) as e:  # an integer mask must be [B, S]
        infer({"heads": 2}, [(2, 3, 8), (2, 3, 8), (2, 1, 3, 3)], ["float32", "float32", "int64"])
    assert code(e) == "ARC202"


@pytest.mark.parametrize("attrs", [
    {"heads": 2, "proj_names": {"query": "q"}},                      # unknown key
    {"heads": 2, "proj_names": {"q": "query"}},                      # packed has no q
    {"heads": 2, "proj_names": {"qkv": "a", "out": "a"}},            # collision
    {"heads": 2, "proj_names": {"qkv": "a", "out": "a.b"}},          # nested collision
    {"heads": 2, "proj_names": {"qkv": "not a path"}},
    {"heads": 2, "out_proj": False, "proj_names": {"out": "o"}},
    {"heads": 2, "layout": "torch", "proj_names": {"qkv": "x"}},
    {"heads": 2, "layout": "torch", "out_proj": False},
])
def test_proj_names_errors(attrs):
    with pytest.raises(ShapeError) as e:
        infer(attrs, [(2, 3, 8)])
    assert code(e) == "ARC204"


# ---------------------------------------------------------------------------------------------
# sdpa
# ---------------------------------------------------------------------------------------------


def test_sdpa_matches_functional():
    torch.manual_seed(11)
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 7, 4), torch.randn(2, 3, 7, 6)
    low, res = run({}, q, k, v, name="sdpa")
    assert isinstance(low, Call) and res.shape == (2, 3, 5, 6)
    torch.testing.assert_close(res, F.scaled_dot_product_attention(q, k, v))
    _, res = run({"causal": True, "scale": 0.3}, q, k, v, name="sdpa")
    torch.testing.assert_close(res, F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3))


def test_sdpa_mask_and_causal():
    torch.manual_seed(12)
    q, k, v = torch.randn(2, 2, 4, 8), torch.randn(2, 2, 4, 8), torch.randn(2, 2, 4, 8)
    keep = torch.rand(2, 1, 1, 4) > 0.4
    keep[..., 0] = True
    _, res = run({"causal": True}, q, k, v, keep, name="sdpa")
    tri = torch.ones(4, 4, dtype=torch.bool).tril()
    torch.testing.assert_close(res, F.scaled_dot_product_attention(q, k, v, attn_mask=keep & tri))
    add = torch.randn(4, 4)
    _, res = run({"causal": True}, q, k, v, add, name="sdpa")
    torch.testing.assert_close(res, F.scaled_dot_product_attention(q, k, v, attn_mask=add.masked_fill(~tri, float("-inf"))))


def test_sdpa_shapes_and_errors():
    ctx = Ctx()
    out = infer({}, [(B, 12, T, 64), (B, 12, S, 64), (B, 12, S, 32)], ctx=ctx, name="sdpa")
    assert out.shape == (B, 12, T, 32) and ctx.constraints == []
    with pytest.raises(ShapeError) as e:
        infer({}, [(2, 3, 5, 4), (2, 3, 7, 5), (2, 3, 7, 4)], name="sdpa")
    assert code(e) == "ARC201"
    with pytest.raises(ShapeError) as e:
        infer({}, [(2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 6, 4)], name="sdpa")
    assert code(e) == "ARC201"
    with pytest.raises(ShapeError) as e:
        infer({}, [(2, 5, 4), (2, 3, 7, 4), (2, 3, 7, 4)], name="sdpa")
    assert code(e) == "ARC205"
    with pytest.raises(ShapeError) as e:
        infer({}, [(2, 5, 4), (2, 7, 4), (2, 7, 4), (2, 5, 7)], ["float32"] * 3 + ["int64"], name="sdpa")
    assert code(e) == "ARC202"


# ---------------------------------------------------------------------------------------------
# Tiny GPT-2 and BERT specs against Hugging Face
# ---------------------------------------------------------------------------------------------

GPT = """
archc: 1
name: tiny_gpt2
params: {vocab: 50, d: 32, heads: 4, n_pos: 16, layers: 2}
symbols:
  B: {example: 2, min: 1}
  T: {example: 7, min: 1, max: 16}
inputs:
  input_ids: {shape: [B, T], dtype: int64, range: [0, 50]}
blocks:
  mlp:
    layers:
      - c_fc: {op: linear, out: "${4 * d}"}
      - act: {op: gelu, approximate: tanh}
      - c_proj: {op: linear, out: "${d}"}
  gpt_block:
    layers:
      - ln_1: {op: layer_norm}
      - attn: {op: attention, heads: "${heads}", causal: true, proj_names: {qkv: c_attn, out: c_proj}}
      - res_1: {op: add, from: [attn, x]}
      - ln_2: {op: layer_norm}
      - mlp: {block: mlp}
      - res_2: {op: add, from: [mlp, res_1]}
  transformer:
    layers:
      - wte: {op: embedding, num: "${vocab}", dim: "${d}"}
      - wpe: {op: positional_embedding, max_len: "${n_pos}"}
      - emb: {op: add, from: [wte, wpe]}
      - h: {block: gpt_block, repeat: "${layers}"}
      - ln_f: {op: layer_norm}
layers:
  - transformer: {block: transformer}
  - lm_head: {op: linear, out: "${vocab}", bias: false}
outputs:
  logits: {from: lm_head, kind: logits}
ties:
  - {param: lm_head.weight, to: transformer.wte.weight}
"""


def test_tiny_gpt2_matches_transformers(tmp_path):
    transformers = pytest.importorskip("transformers")
    p = tmp_path / "gpt.yaml"
    p.write_text(GPT)
    gm = archc.compile(p)
    cfg = transformers.GPT2Config(vocab_size=50, n_positions=16, n_embd=32, n_layer=2, n_head=4,
                                  bos_token_id=0, eos_token_id=0)
    ref = transformers.GPT2LMHeadModel(cfg).eval()
    # HF's Conv1D stores [in, out]: the same numbers as a Linear weight, transposed
    conv1d = ("c_attn.weight", "c_proj.weight", "c_fc.weight")
    sd = {k: (v.t() if k.endswith(conv1d) else v) for k, v in ref.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in gm.state_dict().items()} == {k: tuple(v.shape) for k, v in sd.items()}
    gm.load_state_dict(sd)
    assert gm.lm_head.weight is gm.transformer.wte.weight
    ids = torch.randint(0, 50, (3, 9))
    with torch.no_grad():
        torch.testing.assert_close(gm(ids), ref(ids).logits, atol=1e-5, rtol=1e-4)


BERT = """
archc: 1
name: tiny_bert
params: {vocab: 50, d: 32, heads: 4, ffn: 64, n_pos: 16}
symbols:
  B: {example: 2, min: 1}
  T: {example: 7, min: 1, max: 16}
inputs:
  input_ids: {shape: [B, T], dtype: int64, range: [0, 50]}
  attention_mask: {shape: [B, T], dtype: int64, range: [0, 2]}
  token_type_ids: {shape: [B, T], dtype: int64, range: [0, 2]}
blocks:
  embeddings:
    inputs: [ids, types]
    layers:
      - word_embeddings: {op: embedding, num: "${vocab}", dim: "${d}", padding_idx: 0, from: ids}
      - position_embeddings: {op: positional_embedding, max_len: "${n_pos}", from: word_embeddings}
      - token_type_embeddings: {op: embedding, num: 2, dim: "${d}", from: types}
      - sum: {op: add, from: [word_embeddings, token_type_embeddings, position_embeddings]}
      - LayerNorm: {op: layer_norm, eps: 1.0e-12}
      - dropout: {op: dropout, p: 0.1}
  dense_residual_norm:
    params: {out: int}
    inputs: [h, x]
    layers:
      - dense: {op: linear, out: "${out}", from: h}
      - dropout: {op: dropout, p: 0.1}
      - res: {op: add, from: [dropout, x]}
      - LayerNorm: {op: layer_norm, eps: 1.0e-12}
  bert_attention:
    inputs: [x, mask]
    layers:
      - self: {op: attention, heads: "${heads}", packed: false, out_proj: false,
               proj_names: {q: query, k: key, v: value}, from: [x, x, mask]}
      - output: {block: dense_residual_norm, args: {out: "${d}"}, from: [self, x]}
  intermediate:
    layers:
      - dense: {op: linear, out: "${ffn}"}
      - act: {op: gelu}
  bert_layer:
    inputs: [x, mask]
    layers:
      - attention: {block: bert_attention, from: [x, mask]}
      - intermediate: {block: intermediate}
      - output: {block: dense_residual_norm, args: {out: "${d}"}, from: [intermediate, attention]}
  encoder:
    inputs: [x, mask]
    layers:
      - layer: {block: bert_layer, repeat: 1, from: [x, mask]}
  pooler:
    layers:
      - first: {op: select, dim: 1, index: 0}
      - dense: {op: linear, out: "${d}"}
      - act: {op: tanh}
layers:
  - embeddings: {block: embeddings, from: [input_ids, token_type_ids]}
  - encoder: {block: encoder, from: [embeddings, attention_mask]}
  - pooler: {block: pooler}
outputs:
  last_hidden_state: encoder
  pooler_output: pooler
"""


def test_tiny_bert_matches_transformers(tmp_path):
    transformers = pytest.importorskip("transformers")
    p = tmp_path / "bert.yaml"
    # one layer: `repeat` threads only the first input of a block, so the mask reaches one repetition
    p.write_text(BERT)
    gm = archc.compile(p)
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=16)
    ref = transformers.BertModel(cfg).eval()
    sd = ref.state_dict()
    assert {k: tuple(v.shape) for k, v in gm.state_dict().items()} == {k: tuple(v.shape) for k, v in sd.items()}
    gm.load_state_dict(sd)
    ids = torch.randint(1, 50, (3, 9))
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[0, 6:] = 0
    mask[2, 2:] = 0
    types = torch.randint(0, 2, (3, 9))
    with torch.no_grad():
        hidden, pooled = gm(ids, mask, types)
        want = ref(input_ids=ids, attention_mask=mask, token_type_ids=types)
    torch.testing.assert_close(hidden, want.last_hidden_state, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(pooled, want.pooler_output, atol=1e-5, rtol=1e-4)
