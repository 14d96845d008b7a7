"""Golden files: `Graph.pretty()` of every zoo spec and the generated `model.py` of specs/mlp.yaml.

Regenerate with `UPDATE_GOLDEN=1 pytest tests/ir/test_goldens.py` (the flag the bad corpus uses).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from archc.pipeline import Options, run

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
ZOO = sorted((ROOT / "specs").glob("*.yaml"))  # specs/lib/* are libraries, not globbed


def _compare(path: Path, text: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden {path.relative_to(ROOT)}: run with UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{path.relative_to(ROOT)} differs (UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("spec", ZOO, ids=[p.stem for p in ZOO])
def test_pretty_golden(spec):
    g = run(spec, Options(param_limit=None), until="check").graph
    _compare(GOLDEN / "ir" / f"{spec.stem}.txt", g.pretty() + "\n")


def test_generated_model_py_golden():
    from archc.codegen.pysource import generate

    unit = run(ROOT / "specs" / "mlp.yaml", Options(device="meta", verify=False), until="lower")
    gm, g = unit.module, unit.graph
    _compare(GOLDEN / "model_py" / "mlp.py.txt", generate(gm, g, spec_path="specs/mlp.yaml"))
