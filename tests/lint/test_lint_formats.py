"""`archc lint --format`: text, json, github, sarif (schema-valid) and junit, through the CLI."""
from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from tests.conftest import ROOT
from tests.lint._util import SARIF_SCHEMA, fixture

runner = CliRunner()
BAD = [str(fixture(c, "bad").relative_to(ROOT)) for c in ("ARC304", "ARC307")]


def invoke(*args):
    return runner.invoke(app, ["lint", *args])


def test_text_shows_source_line_and_caret():
    r = invoke(BAD[0])
    assert r.exit_code == 0, r.output  # warnings only: below the default --fail-on error
    assert "warning[ARC304]: `conv` (conv2d) has a bias" in r.stdout
    assert "  - conv: {op: conv2d, out: 16, kernel: 3, padding: 1}\n   |     ^^^^" in r.stdout
    assert r.stdout.rstrip().endswith("0 errors, 1 warning; 1 file linted")


def test_json_document():
    r = invoke(*BAD, "--format", "json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["summary"] == {"files": 2, "errors": 1, "warnings": 1, "info": 0, "suppressed": 0,
                              "fail_on": "error", "failed": True}
    d = doc["files"][1]["diagnostics"][0]
    assert (d["code"], d["name"], d["severity"]) == ("ARC307", "softmax-on-logits", "error")
    assert d["span"]["line"] == 12


def test_github_annotations():
    r = invoke(*BAD, "--format", "github")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("::warning file=tests/lint/fixtures/ARC304/bad.yaml,line=9,col=5,endLine=9,endColumn=9,"
                               "title=ARC304 bias-before-batch-norm::`conv` (conv2d) has a bias")
    assert "%0Ahint: set `bias: false`" in lines[0]
    assert lines[1].startswith("::error file=tests/lint/fixtures/ARC307/bad.yaml,line=12,col=3,")


def _sarif(*args):
    r = invoke(*args, "--format", "sarif")
    return r, json.loads(r.stdout)


def _validate(doc):
    jsonschema = pytest.importorskip("jsonschema")
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"{SARIF_SCHEMA} is not available")
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validate(doc, schema, cls=jsonschema.Draft7Validator)


def test_sarif_of_the_zoo_is_valid_and_clean():
    r, doc = _sarif("specs")
    assert r.exit_code == 0, r.output
    _validate(doc)
    run = doc["runs"][0]
    assert run["results"] == []
    assert [x["id"] for x in run["tool"]["driver"]["rules"]][:3] == ["ARC301", "ARC302", "ARC303"]


def test_sarif_results_are_valid_relative_and_fingerprinted():
    r, doc = _sarif(*BAD, "tests/bad/017_undefined_from.yaml")
    _validate(doc)
    run = doc["runs"][0]
    ids = [x["id"] for x in run["tool"]["driver"]["rules"]]
    res = run["results"]
    assert [x["ruleId"] for x in res] == ["ARC304", "ARC307", "ARC104"]
    for x in res:
        assert ids[x["ruleIndex"]] == x["ruleId"]
        loc = x["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uriBaseId"] == "SRCROOT"
        assert not loc["artifactLocation"]["uri"].startswith(("/", "file:"))
        assert len(x["partialFingerprints"]["archcFingerprint/v1"]) == 32
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"].endswith("/")
    # fingerprints do not depend on line numbers
    _, again = _sarif(*BAD)
    assert again["runs"][0]["results"][0]["partialFingerprints"] == res[0]["partialFingerprints"]


def test_sarif_fingerprint_survives_moving_lines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = fixture("ARC304", "bad").read_text()
    (tmp_path / "m.yaml").write_text(text)
    _, a = _sarif("m.yaml")
    (tmp_path / "m.yaml").write_text("# a new comment line\n" + text)
    _, b = _sarif("m.yaml")
    ra, rb = a["runs"][0]["results"][0], b["runs"][0]["results"][0]
    assert ra["locations"][0]["physicalLocation"]["region"]["startLine"] + 1 == \
        rb["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert ra["partialFingerprints"] == rb["partialFingerprints"]


def test_junit_one_testcase_per_file():
    r = invoke(*BAD, "--format", "junit")
    root = ET.fromstring(r.stdout)
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == BAD
    assert cases[0].find("failure") is None and "ARC304" in cases[0].find("system-out").text
    f = cases[1].find("failure")
    assert f.get("type") == "ARC307 softmax-on-logits"
    assert root.get("tests") == "2" and root.get("failures") == "1"
    r = invoke(*BAD, "--format", "junit", "--fail-on", "warning")
    root = ET.fromstring(r.stdout)
    assert root.get("failures") == "2" and r.exit_code == 1


def test_output_file(tmp_path):
    out = tmp_path / "lint.sarif"
    r = invoke("specs", "--format", "sarif", "-o", str(out))
    assert r.exit_code == 0 and r.stdout == ""
    assert json.loads(out.read_text())["version"] == "2.1.0"
