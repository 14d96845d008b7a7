"""RoBERTa-base (specs/roberta_base.yaml) against Hugging Face's RobertaModel: parameter count and
keys, randomized parity of the small variant, and padded inputs, whose position ids the spec derives
from the padding as the reference does."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import archc
from archc.cli.main import app

transformers = pytest.importorskip("transformers", reason="pip install 'archc-compiler[reference]' (transformers)")
torch = pytest.importorskip("torch")

SPEC = "specs/roberta_base.yaml"
runner = CliRunner()


def _reference(variant=None, device=None):
    g = archc.infer(SPEC, variant=variant)
    cfg = transformers.RobertaConfig(**dict(g.reference.config))
    if device is not None:
        with torch.device(device):
            return transformers.RobertaModel(cfg)
    return transformers.RobertaModel(cfg).eval()


def test_count_and_keys_match_roberta_base():
    ref = _reference(device="meta")
    with torch.device("meta"):
        default = transformers.RobertaModel(transformers.RobertaConfig())
    assert sum(p.numel() for p in ref.parameters()) == sum(p.numel() for p in default.parameters()) == 124_644_864
    assert archc.infer(SPEC).param_count == 124_644_864
    gm = archc.compile(SPEC, device="meta")
    assert {k: tuple(v.shape) for k, v in gm.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in ref.state_dict().items()}   # HF registers position_embeddings last


def test_small_compare_passes():
    r = runner.invoke(app, ["compare", SPEC, "--variant", "small", "--set", "T=32", "--json"])
    if r.exit_code == 3:
        pytest.skip(r.output)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["passed"] and not doc["refused"]
    assert doc["reference"] == "transformers:RobertaModel"
    assert doc["params"] == doc["reference_params"]
    assert doc["unmatched_spec"] == [] and doc["unmatched_reference"] == []
    assert doc["max_rel_diff"] < 1e-7 and doc["max_grad_rel_diff"] < 1e-7
    assert doc["train"]["compared"] and doc["train"]["grad_ok"]


def _padded(B, T, vocab, pad):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(pad + 1, vocab, (B, T), generator=g)
    ids[0, -5:] = pad                 # right padding
    ids[1, :3] = pad                  # left padding
    ids[1, 10] = pad                  # a pad inside: positions skip it
    mask = (ids != pad).long()
    types = torch.randint(0, 2, (B, T), generator=g)
    return ids, types, mask


@pytest.mark.parametrize("T", [24, 17])
def test_padded_inputs_match_the_reference(T):
    """Position ids from the padding (cumsum of the mask, padding at `pad`), at two lengths: the
    compiled small spec with the reference's weights gives the reference's outputs."""
    ref = _reference("small")
    gm = archc.compile(SPEC, {"T": T, "B": 2}, variant="small").eval()
    gm.load_state_dict(ref.state_dict())
    ids, types, mask = _padded(2, T, 1000, 1)
    with torch.no_grad():
        hidden, pooled = gm(ids, types, mask)
        out = ref(input_ids=ids, token_type_ids=types, attention_mask=mask)
    assert (hidden - out.last_hidden_state).abs().max().item() < 1e-5
    assert (pooled - out.pooler_output).abs().max().item() < 1e-5
    # the positions do matter here: counting 2, 3, ... from the start gives other outputs
    naive = ref.embeddings.position_embeddings(torch.arange(T).unsqueeze(0) + 2)
    derived = ref.embeddings.position_embeddings(
        ref.embeddings.create_position_ids_from_input_ids(ids, 1))
    assert (naive - derived).abs().max().item() > 1e-3


def test_position_ids_are_derived_in_the_graph():
    g = archc.infer(SPEC, variant="small")
    ops = [n.op for n in g.nodes if n.path.startswith("embeddings.")]
    assert ops[:7] == ["embedding", "ne", "cast", "cumsum", "mul", "add", "embedding"]
    pos = next(n for n in g.nodes if n.path == "embeddings.position_embeddings")
    assert pos.attrs.padding_idx == 1 and pos.attrs.num == 130
