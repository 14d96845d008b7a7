"""Shared fixtures: paths of the zoo."""
from __future__ import annotations

import os
from pathlib import Path

# every elaboration in the suite runs the IR verifier (`Graph.check()`, the pipeline's check stage)
os.environ.setdefault("ARCHC_CHECK_IR", "1")
# progress lines on stderr (archc.report.progress) off, so outputs compare exactly; tests of progress turn it on
os.environ.setdefault("ARCHC_PROGRESS", "never")

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ZOO = sorted(p for p in SPECS.glob("*.yaml"))
LIBS = sorted((SPECS / "lib").glob("*.yaml"))


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    """Tests run from the repository root, so relative paths in diagnostics are stable."""
    monkeypatch.chdir(ROOT)
