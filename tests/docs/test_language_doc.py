"""Every YAML example in docs/language.md is a real spec (or library) that archc checks.

An example marked `# expect: CODE` must fail with that diagnostic; a block starting with
`# file: lib/NAME.yaml` is a library the following examples may import; `# file: X (needs
specs/Y)` is checked next to a copy of the zoo.
"""
from __future__ import annotations

import re
import shutil

import pytest

import archc
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "language.md").read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)


def test_doc_has_examples():
    assert len(BLOCKS) >= 15


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example(index, tmp_path):
    (tmp_path / "lib").mkdir()
    for text in BLOCKS[: index + 1]:  # libraries defined up to here on the page
        m = re.match(r"# file: (lib/\w+\.yaml)\n", text)
        if m:
            (tmp_path / m.group(1)).write_text(text)
    text = BLOCKS[index]
    m = re.match(r"# file: (\S+)", text)
    if m and m.group(1).startswith("lib/"):
        lib = archc.load_spec(tmp_path / m.group(1))
        assert lib.model.blocks
        return
    if m and "(needs specs/" in text.splitlines()[0]:
        shutil.copytree(ROOT / "specs", tmp_path / "specs")
        path = tmp_path / "specs" / m.group(1)
        path.write_text(text)
    else:
        path = tmp_path / "example.yaml"
        path.write_text(text)
    expect = re.search(r"# expect: (ARC\d{3})", text)
    if expect:
        with pytest.raises(archc.DiagnosticError) as e:
            archc.infer(path)
        codes = [d.code for d in e.value.diagnostics]
        assert expect.group(1) in codes, codes
        line = next(i for i, ln in enumerate(text.splitlines(), 1) if "# expect:" in ln)
        d = next(d for d in e.value.diagnostics if d.code == expect.group(1))
        lines = {d.span.line} | {r.span.line for r in d.related if r.span}
        assert line in lines, (d, line)
    else:
        graph = archc.infer(path)
        assert graph.nodes
