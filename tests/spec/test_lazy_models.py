"""Lint's start-up cost: validating a spec builds the pydantic model of each op it uses, on first
use, and never the full union of every op (which only the JSON Schema needs)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

CODE = r"""
import json, sys
from archc.lint_driver import lint_paths
from archc.spec import models
from archc.spec.nodes import OpUse, SeqUse
from archc.pipeline import run

run_ = lint_paths(["specs"])
used = set()
def walk(entries):
    for e in entries:
        if isinstance(e, OpUse):
            used.add(e.op)
        elif isinstance(e, SeqUse):
            walk(e.items)
for path in sorted(__import__("pathlib").Path("specs").rglob("*.yaml")):
    spec = run(str(path), until="validate").spec
    for f in [spec.main] + [b.file for b in spec.blocks.values()]:
        for entries in f.nodes.values():
            walk(entries)
print(json.dumps({"built": models.raw_op_model.cache_info().currsize,
                  "union": models.build_models.cache_info().currsize, "used": len(used), "files": len(run_.results)}))
"""


def test_linting_the_zoo_builds_only_the_models_of_the_ops_it_uses():
    r = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    from archc.ops import load_ops

    assert doc["files"] >= 10
    assert doc["union"] == 0                      # the all-ops union model is never built
    assert doc["built"] == doc["used"] < len(load_ops())   # one model per op used, no more
