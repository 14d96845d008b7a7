"""CLIP against transformers' CLIPModel(CLIPConfig()): parameter count and state_dict keys (full size,
on the meta device), randomized parity of both towers and both logits (the small variant), the pooled
end-of-text token under both of transformers' rules, and the shapes at a second text length."""
from __future__ import annotations

import pytest

import archc

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SPEC = "specs/clip.yaml"


def test_count_and_keys_match_transformers():
    with torch.device("meta"):
        ref = transformers.CLIPModel(transformers.CLIPConfig())
    assert sum(p.numel() for p in ref.parameters()) == 151_277_313
    assert archc.infer(SPEC).param_count == 151_277_313
    gm = archc.compile(SPEC, device="meta")
    ours = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert ours["logit_scale"] == () and ours["vision_model.embeddings.class_embedding"] == (768,)


def test_small_compare_passes_on_randomized_weights():
    from archc.parity.compare import compare

    doc = compare(SPEC, None, None, "small", seeds=2)
    assert doc["passed"] and not doc["refused"], doc["reasons"]
    assert doc["params"] == doc["reference_params"]
    assert doc["unmatched_spec"] == [] and doc["unmatched_reference"] == []
    for name in ("logits_per_image", "logits_per_text", "text_embeds", "image_embeds"):
        assert name in doc["outputs"], doc["outputs"].keys()
    assert doc["reference_max_abs"] > 0.1


def test_small_examples_hold_the_end_of_text_token():
    """The small variant's example ids make the pooling matter: most rows hold the eos id, at
    different first positions, so pooling a fixed position would differ from the reference."""
    from archc.codegen.verify import example_inputs
    from archc.pipeline import Options, run

    graph = run(SPEC, Options(variant="small"), until="check").graph
    ids = example_inputs(graph, seed=0)["input_ids"]
    firsts = {int((row == 63).int().argmax()) for row in ids if bool((row == 63).any())}
    assert len(firsts) >= 2, ids


def test_pooling_takes_the_first_end_of_text_token():
    """The text tower's output is the state at the first eos position (eos 63 in the small variant):
    moving a later eos changes nothing, moving the first one changes the row; under transformers'
    legacy rule (eos_token_id 2) it is the position of the largest id."""
    gm = archc.compile(SPEC, {"T": 6, "N": 2}, variant="small")
    legacy = archc.compile(SPEC, {"T": 6, "N": 2, "eos_token_id": 2}, variant="small")
    legacy.load_state_dict(gm.state_dict())
    rows = torch.tensor([[5, 63, 7, 63, 1, 2], [9, 8, 7, 6, 63, 3]])
    pixels = torch.randn(2, 3, 32, 32)
    text = lambda m, ids: m(ids, pixels)[2]   # outputs in the spec's order: text_embeds is the third
    with torch.no_grad():
        base = text(gm, rows)
        later = rows.clone()
        later[0, 3] = 10                       # the second eos of row 0 goes: row 0 unchanged
        torch.testing.assert_close(text(gm, later)[0], base[0])
        first = rows.clone()
        first[0, 1] = 10                       # the first eos of row 0 goes: row 0 pools position 3
        assert not torch.allclose(text(gm, first)[0], base[0])
        torch.testing.assert_close(text(gm, first)[1], base[1])
        # the legacy rule pools the largest id, here the same positions as the first 63
        torch.testing.assert_close(text(legacy, rows), base)
        # a row with no eos: the first-eos rule pools position 0 (argmax of all zeros), which the
        # causal encoder makes independent of the later tokens; the legacy rule pools the largest id
        none = torch.tensor([[5, 40, 7, 9, 1, 2], [9, 8, 7, 6, 63, 3]])
        changed = none.clone()
        changed[0, 1:] = torch.tensor([41, 3, 3, 3, 3])
        torch.testing.assert_close(text(gm, changed)[0], text(gm, none)[0])
        assert not torch.allclose(text(legacy, changed)[0], text(legacy, none)[0])


def test_small_compare_legacy_eos_rule():
    from archc.parity.compare import compare

    doc = compare(SPEC, None, {"eos_token_id": 2, "example_ids": 64}, "small", seeds=1, train=False)
    assert doc["passed"] and not doc["refused"], doc["reasons"]


def test_second_text_length_verifies():
    from archc.codegen.verify import verify
    from archc.pipeline import Options, from_graph, run

    graph = run(SPEC, Options(variant="small"), until="check").graph
    gm = run(from_graph(graph, Options(device="meta")), until="lower").module
    for n, t, b in [(3, 16, 2), (1, 9, 4)]:
        assert verify(gm, graph, {**graph.example_env, "N": n, "T": t, "B": b}) == []
