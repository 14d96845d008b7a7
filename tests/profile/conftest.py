"""Helpers for the profile tests: tiny specs written in the tests themselves."""
from __future__ import annotations

import textwrap

import pytest


@pytest.fixture
def write_spec(tmp_path):
    def write(text: str, name: str = "spec.yaml") -> str:
        p = tmp_path / name
        p.write_text(textwrap.dedent(text).lstrip())
        return str(p)

    return write
