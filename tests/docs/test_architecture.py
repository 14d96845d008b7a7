"""docs/architecture.md's worked examples run as written, each in a fresh interpreter (they register
ops and rules, which must not leak into this process)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_has_its_examples():
    assert len(BLOCKS) == 4


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_example_runs(i):
    r = subprocess.run([sys.executable, "-c", BLOCKS[i]], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
