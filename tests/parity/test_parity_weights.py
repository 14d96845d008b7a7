"""`map_state_dict`: rename, ignore, join, split, transpose, ties, diagnostics, and the inverse."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from archc.parity.weights import map_state_dict, unmap_state_dict  # noqa: E402
from archc.spec.models import WeightMapping  # noqa: E402


def wm(**kw) -> WeightMapping:
    return WeightMapping.model_validate(kw)


def shapes(sd):
    return {k: tuple(v.shape) for k, v in sd.items()}


def test_identity_and_unmatched_both_sides():
    ref = {"a.weight": torch.ones(2, 3), "extra": torch.zeros(1)}
    res = map_state_dict(ref, None, {"a.weight": (2, 3), "b.weight": (4,)})
    assert list(res.mapped) == ["a.weight"]
    assert res.unmatched_ref == ["extra"]
    assert res.unmatched_spec == ["b.weight"]
    assert res.problems == []


def test_rename_in_order_with_groups():
    ref = {"transformer.h.0.ln_1.weight": torch.ones(4), "transformer.h.1.ln_1.weight": torch.zeros(4)}
    m = wm(rename=[{"pattern": r"^transformer\.", "to": ""},
                   {"pattern": r"^h\.(\d+)\.ln_1\.", "to": r"blocks.\1.norm1."}])
    res = map_state_dict(ref, m, {"blocks.0.norm1.weight": (4,), "blocks.1.norm1.weight": (4,)})
    assert res.problems == [] and not res.unmatched_ref and not res.unmatched_spec
    assert torch.equal(res.mapped["blocks.1.norm1.weight"], torch.zeros(4))


def test_ignore_globs_over_renamed_keys():
    ref = {"net.fc.weight": torch.ones(2, 2), "net.h.0.attn.masked_bias": torch.ones(1), "net.h.1.attn.masked_bias": torch.ones(1)}
    m = wm(rename=[{"pattern": r"^net\.", "to": ""}], ignore=["*.attn.masked_bias"])
    res = map_state_dict(ref, m, {"fc.weight": (2, 2)})
    assert res.unmatched_ref == [] and list(res.mapped) == ["fc.weight"]


def test_join_star_matches_one_segment_consistently():
    ref = {}
    for i in range(2):
        for j, n in enumerate("qkv"):
            ref[f"h.{i}.attn.{n}.weight"] = torch.full((2, 3), float(10 * i + j))
    m = wm(join=[{"from": ["h.*.attn.q.weight", "h.*.attn.k.weight", "h.*.attn.v.weight"], "into": "h.*.attn.qkv.weight"}])
    target = {"h.0.attn.qkv.weight": (6, 3), "h.1.attn.qkv.weight": (6, 3)}
    prov = {}
    res = map_state_dict(ref, m, target, provenance=prov)
    assert res.problems == [] and not res.unmatched_ref and not res.unmatched_spec
    got = res.mapped["h.1.attn.qkv.weight"]
    assert got.shape == (6, 3) and got[:2].eq(10).all() and got[2:4].eq(11).all() and got[4:].eq(12).all()
    assert prov["h.1.attn.qkv.weight"].sources == ("h.1.attn.q.weight", "h.1.attn.k.weight", "h.1.attn.v.weight")
    back = unmap_state_dict(res.mapped, prov)
    assert set(back) == set(ref) and all(torch.equal(back[k], ref[k]) for k in ref)


def test_join_missing_source_is_a_diagnostic():
    ref = {"h.0.attn.q.weight": torch.ones(2, 3), "h.0.attn.k.weight": torch.ones(2, 3)}
    m = wm(join=[{"from": ["h.*.attn.q.weight", "h.*.attn.k.weight", "h.*.attn.v.weight"], "into": "h.*.attn.qkv.weight"}])
    res = map_state_dict(ref, m, {"h.0.attn.qkv.weight": (6, 3)})
    assert [d.code for d in res.problems] == ["ARC603"]
    assert "`h.0.attn.v.weight`" in res.problems[0].message and "h.0.attn.qkv.weight" in res.problems[0].message
    assert res.unmatched_spec == ["h.0.attn.qkv.weight"]


def test_split_along_dim_with_transpose_gpt2_style():
    # GPT-2's Conv1D stores c_attn.weight as [in, 3*out]: split along dim 1, then transpose each part
    w = torch.arange(4 * 6, dtype=torch.float32).reshape(4, 6)
    b = torch.arange(6, dtype=torch.float32)
    ref = {"h.0.attn.c_attn.weight": w, "h.0.attn.c_attn.bias": b}
    m = wm(split=[{"from": "h.*.attn.c_attn.weight", "into": ["h.*.q.weight", "h.*.k.weight", "h.*.v.weight"], "dim": 1},
                  {"from": "h.*.attn.c_attn.bias", "into": ["h.*.q.bias", "h.*.k.bias", "h.*.v.bias"]}],
           transpose=["*.weight"])
    target = {f"h.0.{n}.{p}": ((2, 4) if p == "weight" else (2,)) for n in "qkv" for p in ("weight", "bias")}
    prov = {}
    res = map_state_dict(ref, m, target, provenance=prov)
    assert res.problems == [] and not res.unmatched_ref and not res.unmatched_spec
    assert torch.equal(res.mapped["h.0.k.weight"], w[:, 2:4].t())
    assert torch.equal(res.mapped["h.0.v.bias"], b[4:])          # 1-D: not transposed
    back = unmap_state_dict(res.mapped, prov)
    assert torch.equal(back["h.0.attn.c_attn.weight"], w) and torch.equal(back["h.0.attn.c_attn.bias"], b)


def test_split_not_divisible():
    m = wm(split=[{"from": "w", "into": ["a", "b"]}])
    res = map_state_dict({"w": torch.ones(3, 2)}, m, {"a": (1, 2), "b": (2, 2)})
    assert [d.code for d in res.problems] == ["ARC603"] and "[3, 2]" in res.problems[0].message


def test_transpose_2d_only():
    ref = {"fc.weight": torch.randn(3, 5), "fc.bias": torch.randn(5)}
    res = map_state_dict(ref, wm(transpose=["fc.*"]), {"fc.weight": (5, 3), "fc.bias": (5,)})
    assert res.problems == []
    assert torch.equal(res.mapped["fc.weight"], ref["fc.weight"].t()) and torch.equal(res.mapped["fc.bias"], ref["fc.bias"])


def test_mis_shaped_names_both_sides():
    ref = {"head.w": torch.ones(10, 512)}
    res = map_state_dict(ref, wm(rename=[{"pattern": r"^head\.w$", "to": "fc.weight"}]), {"fc.weight": (1000, 512)})
    (d,) = res.problems
    assert d.code == "ARC603"
    assert d.message == "`fc.weight`: reference `head.w` has [10, 512], spec has [1000, 512]"
    assert res.mapped == {} and res.unmatched_spec == [] and res.unmatched_ref == []
    res = map_state_dict({"fc.weight": torch.ones(10, 512)}, None, {"fc.weight": (1000, 512)}, source_name="file")
    assert res.problems[0].message == "`fc.weight`: file has [10, 512], spec has [1000, 512]"


def test_ties_both_present_hf_style():
    wte = torch.randn(10, 4)
    ref = {"transformer.wte.weight": wte, "lm_head.weight": wte}
    m = wm(rename=[{"pattern": r"^transformer\.", "to": ""}])
    res = map_state_dict(ref, m, {"wte.weight": (10, 4), "lm_head.weight": (10, 4)}, ties=[("lm_head.weight", "wte.weight")])
    assert res.problems == [] and not res.unmatched_spec and not res.unmatched_ref


def test_ties_one_present_fills_the_other():
    wte = torch.randn(10, 4)
    target = {"wte.weight": (10, 4), "lm_head.weight": (10, 4)}
    res = map_state_dict({"wte.weight": wte}, None, target, ties=[("lm_head.weight", "wte.weight")])
    assert not res.unmatched_spec and torch.equal(res.mapped["lm_head.weight"], wte)
    assert list(res.mapped) == ["wte.weight", "lm_head.weight"]
    res = map_state_dict({"lm_head.weight": wte}, None, target, ties=[("lm_head.weight", "wte.weight")])
    assert not res.unmatched_spec and torch.equal(res.mapped["wte.weight"], wte)


def test_bad_regex_and_star_count_are_spec_errors():
    res = map_state_dict({"a": torch.ones(1)}, wm(rename=[{"pattern": "(", "to": "b"}]), {"a": (1,)})
    assert [d.code for d in res.problems] == ["ARC119"]
    res = map_state_dict({"a": torch.ones(1)}, wm(join=[{"from": ["h.*.q", "h.k"], "into": "h.*.qkv"}]), {"a": (1,)})
    assert [d.code for d in res.problems] == ["ARC119"]


def test_two_keys_renamed_to_one():
    m = wm(rename=[{"pattern": r"^(a|b)$", "to": "c"}])
    res = map_state_dict({"a": torch.ones(1), "b": torch.ones(1)}, m, {"c": (1,)})
    assert any("`a` and `b` are both renamed to `c`" in d.message for d in res.problems)


def test_hf_gpt2_state_dict_maps():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50, n_positions=8)
    ref = transformers.GPT2LMHeadModel(cfg).state_dict()
    m = wm(rename=[{"pattern": r"^transformer\.", "to": ""}, {"pattern": r"\.mlp\.c_fc\.", "to": ".mlp.fc."},
                   {"pattern": r"\.mlp\.c_proj\.", "to": ".mlp.proj."}, {"pattern": r"\.attn\.c_proj\.", "to": ".attn.proj."}],
           split=[{"from": "h.*.attn.c_attn.weight", "into": ["h.*.attn.q.weight", "h.*.attn.k.weight", "h.*.attn.v.weight"], "dim": 1},
                  {"from": "h.*.attn.c_attn.bias", "into": ["h.*.attn.q.bias", "h.*.attn.k.bias", "h.*.attn.v.bias"]}],
           transpose=["h.*.attn.*.weight", "h.*.mlp.*.weight"], ignore=["*.attn.bias", "*.attn.masked_bias"])
    target = {"wte.weight": (50, 16), "wpe.weight": (8, 16), "ln_f.weight": (16,), "ln_f.bias": (16,), "lm_head.weight": (50, 16)}
    for i in range(2):
        h = f"h.{i}"
        for n in ("ln_1", "ln_2"):
            target[f"{h}.{n}.weight"] = (16,)
            target[f"{h}.{n}.bias"] = (16,)
        for n in "qkv":
            target[f"{h}.attn.{n}.weight"] = (16, 16)
            target[f"{h}.attn.{n}.bias"] = (16,)
        target.update({f"{h}.attn.proj.weight": (16, 16), f"{h}.attn.proj.bias": (16,),
                       f"{h}.mlp.fc.weight": (64, 16), f"{h}.mlp.fc.bias": (64,),
                       f"{h}.mlp.proj.weight": (16, 64), f"{h}.mlp.proj.bias": (16,)})
    res = map_state_dict(ref, m, target, ties=[("lm_head.weight", "wte.weight")])
    assert res.problems == [] and res.unmatched_ref == [] and res.unmatched_spec == []
    assert torch.equal(res.mapped["h.1.attn.k.weight"], ref["transformer.h.1.attn.c_attn.weight"][:, 16:32].t())
