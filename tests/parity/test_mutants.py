"""Mutation testing of the proof: one mutant of every applicable class makes `compare` fail.

Small variants in the default suite (one seed per compare, to stay near a minute), full size under
`slow` (the default seeds). A mutant the compiler rejects with a diagnostic counts as killed.
Known-equivalent mutants (archc.parity.mutate.EQUIVALENT) and dead ones (an edit of a block the
configuration does not instantiate) are passed over.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from archc.parity import mutate  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

SMALL = [
    ("resnet18", {"H": 64, "W": 64, "B": 1}, None),
    ("vit_b_16", {}, "small"),
    ("gpt2", {"T": 16}, "small"),
    ("bert_base", {"T": 16}, "small"),
    ("efficientnet", {"H": 32, "W": 32, "B": 1}, None),   # 8 mutants, ~75 s of CPU (eval only: B=1 at 1x1 has no batch statistics)
    ("vae_kl", {"H": 8, "W": 8, "B": 1}, None),
    ("clip", {"T": 8}, "small"),
    ("roberta_base", {"T": 16}, "small"),
]
REFERENCE_PACKAGE = {"resnet18": "torchvision", "vit_b_16": "torchvision", "efficientnet": "torchvision",
                     "deeplabv3_resnet50": "torchvision", "vae_kl": "diffusers"}
FULL = [("resnet18", {}, None), ("vit_b_16", {}, None), ("gpt2", {}, None), ("bert_base", {}, None),
        ("efficientnet", {}, None), ("roberta_base", {}, None),
        # torchvision's fixed widths: no small variant; its 8 mutant classes at 64x64, B=2 take ~13 min
        ("deeplabv3_resnet50", {"H": 64, "W": 64, "B": 2}, None),
        ("segformer_b0", {"H": 64, "W": 64, "B": 2}, None)]   # 9 mutant classes, ~15 min


def _one_per_class(spec: Path, overrides=None, variant=None) -> list[mutate.Mutant]:
    """The first live mutant of each class (not known-equivalent, not in a block this configuration
    does not instantiate)."""
    out, seen = [], set()
    used = mutate.used_blocks(spec, overrides, variant)
    for m in mutate.enumerate_mutants(spec):
        if m.cls not in seen and mutate.equivalent_reason(spec, m) is None and mutate.dead_reason(m, used) is None:
            seen.add(m.cls)
            out.append(m)
    return out


def _check(name, overrides, variant, **kw):
    pytest.importorskip(REFERENCE_PACKAGE.get(name, "transformers"))
    from archc.parity.compare import compare

    spec = ROOT / "specs" / f"{name}.yaml"
    base = compare(str(spec), None, overrides, variant, **kw)
    assert base["passed"] and not base.get("refused"), base.get("reasons")
    survivors = []
    for m in _one_per_class(spec, overrides, variant):
        r = mutate.run_mutant(spec, m, overrides, variant, **kw)
        # killed: compare fails; or the compiler rejects the mutant with a diagnostic (a ViT whose
        # patch stride, kernel or dilation changes the token count no longer fits its position embedding)
        if r["outcome"] not in ("killed", "diagnostic"):
            survivors.append((m.key, r))
    assert not survivors, survivors


@pytest.mark.parametrize("name,overrides,variant", SMALL, ids=[s[0] for s in SMALL])
def test_small_mutants_fail_compare(name, overrides, variant):
    _check(name, overrides, variant, seeds=1)


@pytest.mark.slow
@pytest.mark.timeout(3600)   # one full-size spec's ~11 mutants x 3 seeds: 20-35 min on the shared 2-CPU machine
@pytest.mark.parametrize("name,overrides,variant", FULL, ids=[s[0] for s in FULL])
def test_full_size_mutants_fail_compare(name, overrides, variant):
    _check(name, overrides, variant)
