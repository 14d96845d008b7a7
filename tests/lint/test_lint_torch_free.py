"""Linting never imports torch: in a process where torch cannot be imported, and after the whole zoo."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

BLOCKED = r"""
import sys
sys.modules["torch"] = None          # `import torch` now raises ImportError
from archc.cli.main import main
sys.argv = ["archc", "lint", "specs", "--format", "sarif", "-o", sys.argv[1]]
main()
"""

ZOO = r"""
import sys
from archc.lint_driver import lint_paths
run = lint_paths(["specs"])
assert not run.failed, run.diagnostics
print(",".join(m for m in ("torch", "rich", "numpy") if m in sys.modules))
"""


def test_lint_runs_with_torch_unimportable(tmp_path):
    out = tmp_path / "zoo.sarif"
    p = subprocess.run([sys.executable, "-c", BLOCKED, str(out)], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert '"version": "2.1.0"' in out.read_text()


def test_linting_the_zoo_leaves_torch_unimported():
    p = subprocess.run([sys.executable, "-c", ZOO], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ""
