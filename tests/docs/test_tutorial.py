"""The tutorial's commands run in a fresh folder and print what docs/tutorial.md shows.

`UPDATE_GOLDEN=1` rewrites the output blocks from real runs. Blocks marked `output-masked` contain
timings and sizes: they are compared with every digit replaced by `#`.
"""
from __future__ import annotations

import os
import re
import shlex

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from tests.conftest import ROOT

DOC = ROOT / "docs" / "tutorial.md"
PATTERN = re.compile(r"<!-- (file|output|output-masked): (.+?) -->\n```(\w*)\n(.*?)```", re.S)


def _mask(text: str) -> str:
    """Numbers become `#`, and runs of spaces or rules collapse (column widths follow the numbers)."""
    text = re.sub(r"\d+(\.\d+)?(e[+-]\d+)?", "#", text)
    return re.sub(r"━+", "━", re.sub(r" +", " ", text))


def _run(cmd: str) -> str:
    args = shlex.split(cmd)
    assert args[0] == "archc"
    r = CliRunner().invoke(app, args[1:], env={"COLUMNS": "100", "NO_COLOR": "1"})
    out = "\n".join(line.rstrip() for line in (r.stdout + r.stderr).splitlines())
    return f"$ {cmd}\n{out}\n" + ("" if r.exit_code == 0 else f"(exit {r.exit_code})\n")


@pytest.mark.timeout(600)
def test_tutorial(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime", reason="the tutorial's build step needs archc-compiler[export]")
    monkeypatch.chdir(tmp_path)
    text = DOC.read_text()
    pieces: list[str] = []
    last = 0
    failures = []
    for m in PATTERN.finditer(text):
        kind, arg, _, body = m.groups()
        if kind == "file":
            (tmp_path / arg).write_text(body)
            continue
        got = _run(arg)
        if os.environ.get("UPDATE_GOLDEN"):
            pieces += [text[last:m.start(4)], got]
            last = m.end(4)
            continue
        same = _mask(got) == _mask(body) if kind == "output-masked" else got == body
        if not same:
            failures.append(f"--- {arg}\n--- shown:\n{body}\n--- real:\n{got}")
    if os.environ.get("UPDATE_GOLDEN"):
        DOC.write_text("".join(pieces) + text[last:])
    assert not failures, "\n".join(failures)
