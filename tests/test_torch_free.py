"""The front and middle of the compiler never import torch (lint must start fast)."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

CODE = r"""
import sys, glob
import archc
from archc.spec.schema import json_schema_text
for p in sorted(glob.glob("specs/*.yaml")):
    archc.infer(p)
json_schema_text()
bad = [m for m in ("torch", "typer", "rich") if m in sys.modules]
print(",".join(bad))
"""


def test_infer_whole_zoo_without_torch():
    out = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
