"""Helpers shared by the lint tests."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SARIF_SCHEMA = ROOT.parent / "shared" / "data" / "sarif-schema-2.1.0.json"


def codes(result) -> list[str]:
    return [d.code for d in result.diagnostics]


def fixture(code: str, kind: str) -> Path:
    return FIXTURES / code / f"{kind}.yaml"
