"""Lint never raises and never hangs: generated and mutated specs (valid ones with edits, truncations,
wrong types, random YAML and random text). Every diagnostic carries a known code and a location."""
from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archc.diagnostics import code_info
from archc.lint_driver import LintConfig, LintOptions, lint_text
from tests.conftest import ROOT
from tests.lint._util import FIXTURES

SEEDS = sorted(p.read_text() for p in FIXTURES.glob("*/*.yaml")) + [(ROOT / "specs" / "mlp.yaml").read_text()]
OPTIONS = LintOptions(config=LintConfig(select=("ALL",)))
FUZZ = settings(max_examples=520, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

scalars = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.booleans(), st.none(),
    st.text(max_size=12), st.sampled_from(["${", "${x}", "${1/0}", "${2**999}", "${hidden * 2}", "[1, 2", "{a: 1}",
                                           "*a", "&a x", "!!python/object:os.system", "'", "B", "-1", "0", "1e9"]))
yaml_data = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                          st.dictionaries(st.text(max_size=8), kids, max_size=4)),
                         max_leaves=20)


def check(text: str) -> None:
    res = lint_text(text, "tests/lint/fuzz.yaml", OPTIONS)
    for d in res.diagnostics:
        assert re.fullmatch(r"ARC\d{3}", d.code) and code_info(d.code) is not None, d
        assert d.span is not None and d.span.line >= 1 and d.span.col >= 1, d
        assert d.severity in ("error", "warning", "info")


@pytest.mark.timeout(120)
@FUZZ
@given(seed=st.sampled_from(SEEDS), cut=st.floats(0, 1))
def test_truncated_specs(seed, cut):
    check(seed[: int(len(seed) * cut)])


@pytest.mark.timeout(120)
@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_specs_with_line_edits(seed, data):
    lines = seed.splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        how = data.draw(st.sampled_from(["drop", "dup", "swap", "indent", "dedent", "value", "key"]))
        if how == "drop":
            del lines[i]
        elif how == "dup":
            lines.insert(i, lines[i])
        elif how == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif how == "indent":
            lines[i] = "  " + lines[i]
        elif how == "dedent":
            lines[i] = lines[i][2:]
        else:
            tokens = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\d+", lines[i])
            if tokens:
                old = data.draw(st.sampled_from(tokens))
                new = data.draw(st.sampled_from(["0", "-3", "7", "100000000", "x", "relu", "true", "null", "[]", "{}",
                                                 "${i}", "B", "conv2d", "attention", "from", "op", "layers"]))
                lines[i] = lines[i].replace(old, new, 1)
    check("\n".join(lines) + "\n")


def _paths(v, prefix=()):
    yield prefix
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, prefix + (k,))
    elif isinstance(v, list):
        for k, x in enumerate(v):
            yield from _paths(x, prefix + (k,))


@pytest.mark.timeout(120)
@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_specs_with_wrong_types(seed, data):
    doc = yaml.safe_load(seed)
    paths = [p for p in _paths(doc) if p]
    path = data.draw(st.sampled_from(paths))
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    if data.draw(st.booleans()):
        parent[path[-1]] = data.draw(yaml_data)
    elif isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent.pop(path[-1])
    check(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.timeout(120)
@FUZZ
@given(doc=st.one_of(yaml_data, st.dictionaries(st.sampled_from(["archc", "name", "layers", "inputs", "outputs", "blocks",
                                                                  "params", "symbols", "imports", "extends", "variants"]),
                                                 yaml_data, max_size=6)),
       junk=st.text(max_size=60))
def test_random_yaml_and_text(doc, junk):
    check(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
    check(junk)
