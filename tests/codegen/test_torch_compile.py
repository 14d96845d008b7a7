"""The compiled GraphModules go through `torch.compile(..., fullgraph=True)` (Dynamo + Inductor on CPU)
and give the eager outputs: an mlp, a small ResNet-18 (32x32 images) and GPT-2's `small` variant.

fullgraph=True makes any graph break an error, so this also proves the generated code (and every
lowering in these models, attention included) is traceable by Dynamo without fallbacks.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import archc  # noqa: E402
from archc.codegen.verify import example_inputs  # noqa: E402

CASES = {
    "mlp": ("specs/mlp.yaml", {}, None),
    "resnet18": ("specs/resnet18.yaml", {"H": 32, "W": 32}, None),
    "gpt2_small": ("specs/gpt2.yaml", {}, "small"),
}


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", list(CASES))
def test_torch_compile_fullgraph_matches_eager(name):
    spec, overrides, variant = CASES[name]
    gm = archc.compile(spec, overrides, variant=variant)
    gm.eval()
    inputs = list(example_inputs(gm.archc_graph, seed=0).values())
    torch._dynamo.reset()
    with torch.no_grad():
        eager = gm(*inputs)
        compiled = torch.compile(gm, fullgraph=True)
        got = compiled(*inputs)
        again = compiled(*inputs)   # the cached compiled code, not a recompilation
    eager_l = list(eager) if isinstance(eager, (tuple, list)) else [eager]
    got_l = list(got) if isinstance(got, (tuple, list)) else [got]
    again_l = list(again) if isinstance(again, (tuple, list)) else [again]
    assert len(got_l) == len(eager_l)
    for e, g, a in zip(eager_l, got_l, again_l):
        assert e.dtype == torch.float32 and g.shape == e.shape
        torch.testing.assert_close(g, e, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(a, e, atol=1e-4, rtol=1e-4)
