"""Per-rule snapshots: every rule in RULES has a bad fixture, tests/lint/fixtures/<CODE>/bad.yaml,
and the text that `archc lint` prints for it, tests/lint/snapshots/<CODE>.txt, compared byte for
byte. The rule's own documented examples are checked too: its `good` example, made a spec, does
not trigger it.

Regenerate the snapshots with `UPDATE_GOLDEN=1 pytest tests/lint/test_lint_snapshots.py` (the flag
tests/test_bad_specs.py uses), and read the diff before committing it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from archc.cli.main import app
from archc.lint import RULES, load_rules
from archc.lint_driver import LintConfig, LintOptions, lint_text
from tests.conftest import ROOT
from tests.lint._util import FIXTURES, fixture

load_rules()
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
ALL = sorted(RULES)
runner = CliRunner()


def _rendered(code: str) -> tuple[int, str]:
    """`archc lint tests/lint/fixtures/<CODE>/bad.yaml` from the repository root (no colour)."""
    path = fixture(code, "bad").relative_to(ROOT).as_posix()
    r = runner.invoke(app, ["lint", "--isolated", path])
    return r.exit_code, r.stdout


def as_spec(example: str, code: str) -> str:
    """A rule's documented example (a fragment: `layers:`, `blocks:`, `params:`...) as a whole spec:
    the header (`archc`, `name`, `symbols`, `inputs`) of the rule's bad fixture, then the example's
    keys. An example without `layers` gets one instance of each of its blocks, or, with no blocks,
    the fixture's layers and outputs."""
    fx = yaml.safe_load(fixture(code, "bad").read_text(encoding="utf-8"))
    ex = yaml.safe_load(example)
    spec = {k: fx[k] for k in ("archc", "name", "symbols", "inputs") if k in fx}
    spec.update(ex)
    if "layers" not in ex:
        if "blocks" in ex:
            spec["layers"] = [{name: {"block": name}} for name in ex["blocks"]]
        else:
            spec["layers"] = fx["layers"]
            if "outputs" in fx and "outputs" not in ex:
                spec["outputs"] = fx["outputs"]
    return yaml.safe_dump(spec, sort_keys=False)


def _lint(text: str, code: str):
    return lint_text(text, f"{code}_example.yaml", LintOptions(config=LintConfig()))


@pytest.mark.parametrize("code", ALL)
def test_rule_snapshot(code):
    path = fixture(code, "bad")
    assert path.is_file(), f"rule {code} has no fixture: add {path.relative_to(ROOT)}"
    exit_code, got = _rendered(code)
    accepted = (code,) + RULES[code].also_reported_as
    assert any(f"[{c}]" in got for c in accepted), f"{path.relative_to(ROOT)} does not trigger {code}:\n{got}"
    assert exit_code == (1 if "error[" in got else 0), got
    snap = SNAPSHOTS / f"{code}.txt"
    if UPDATE:
        snap.parent.mkdir(exist_ok=True)
        snap.write_bytes(got.encode("utf-8"))
    assert snap.is_file(), f"rule {code} has no snapshot: run with UPDATE_GOLDEN=1"
    assert got == snap.read_bytes().decode("utf-8"), (
        f"`archc lint {path.relative_to(ROOT)}` changed; if that is intended, regenerate with UPDATE_GOLDEN=1")


@pytest.mark.parametrize("code", ALL)
def test_rule_good_example_does_not_trigger_it(code):
    r = RULES[code]
    found = _lint(as_spec(r.good, code), code).diagnostics
    # the example is a valid model (no ARC0xx-ARC2xx error), so the rule really ran on it
    assert not [d for d in found if d.code[3] in "012"], [(d.code, d.message) for d in found]
    assert code not in [d.code for d in found], [(d.code, d.message) for d in found]


@pytest.mark.parametrize("code", ALL)
def test_rule_bad_example_triggers_it(code):
    r = RULES[code]
    if "# ..." in r.bad:
        pytest.skip("the example elides layers (`# ...`)")
    found = [d.code for d in _lint(as_spec(r.bad, code), code).diagnostics]
    assert any(c in (code,) + r.also_reported_as for c in found), found


def test_every_snapshot_is_a_rule():
    assert sorted(p.stem for p in SNAPSHOTS.glob("*.txt")) == ALL, "stale snapshots: delete them"
    assert sorted(p.name for p in FIXTURES.iterdir() if (p / "bad.yaml").is_file()) == ALL
