"""Selection, pyproject configuration, per-file ignores, inline suppression and --fail-on."""
from __future__ import annotations

import pytest

from archc.lint_driver import ConfigError, LintConfig, LintOptions, lint_paths
from archc.lint_driver.config import find_pyproject, load_config
from archc.lint_driver.suppress import is_suppressed, suppressions
from archc.lint_driver.engine import Linter
from tests.lint._util import fixture

BAD_ACT = fixture("ARC306", "bad").read_text()


def write(tmp_path, name, text):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def run_codes(paths, **kw):
    return [d.code for d in lint_paths([str(p) for p in paths], LintOptions(**kw)).diagnostics]


@pytest.mark.parametrize("select, ignore, expect", [
    (None, (), ["ARC306"]),
    (("ARC3",), (), ["ARC306"]),
    (("ARC4",), (), []),
    (("ALL",), ("ARC30",), []),
    (("ARC306",), (), ["ARC306"]),
    (None, ("ARC306",), []),
])
def test_select_and_ignore_by_code_or_prefix(tmp_path, select, ignore, expect):
    p = write(tmp_path, "m.yaml", BAD_ACT)
    assert run_codes([p], select=select, ignore=ignore, config=LintConfig()) == expect


def test_pyproject_found_by_walking_up(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.archc.lint]\nignore = ["ARC306"]\n')
    p = write(tmp_path, "specs/deep/m.yaml", BAD_ACT)
    assert find_pyproject(p.parent) == tmp_path / "pyproject.toml"
    assert run_codes([p]) == []
    assert run_codes([p], config=LintConfig()) == ["ARC306"]  # --isolated


def test_per_file_ignores(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.archc.lint]\nper-file-ignores = {"specs/legacy/*.yaml" = ["ARC3"]}\n')
    old = write(tmp_path, "specs/legacy/m.yaml", BAD_ACT)
    new = write(tmp_path, "specs/m.yaml", BAD_ACT)
    run = lint_paths([str(old), str(new)])
    assert [(r.file.endswith("legacy/m.yaml"), [d.code for d in r.diagnostics]) for r in run.results] == [
        (True, []), (False, ["ARC306"])]


def test_config_errors_are_reported(tmp_path):
    for text, what in [('[tool.archc.lint]\nselcet = ["ARC3"]\n', "unknown key"),
                       ('[tool.archc.lint]\nselect = ["E501"]\n', "not a code"),
                       ('[tool.archc.lint]\nfail-on = "sometimes"\n', "fail-on"),
                       ('[tool.archc.lint\n', "pyproject.toml")]:
        (tmp_path / "pyproject.toml").write_text(text)
        with pytest.raises(ConfigError, match=what):
            load_config(tmp_path / "pyproject.toml")


def test_fail_on_from_config(tmp_path):
    write(tmp_path, "pyproject.toml", '[tool.archc.lint]\nfail-on = "warning"\nopset = 19\n')
    p = write(tmp_path, "m.yaml", BAD_ACT)
    run = lint_paths([str(p)])
    assert run.fail_on == "warning" and run.failed
    assert not lint_paths([str(p)], LintOptions(fail_on="error")).failed


@pytest.mark.parametrize("comment, line_before, suppressed", [
    ("  # archc: ignore[ARC306] -- deliberate for the test", False, True),
    ("  # archc: ignore[ARC306]", False, True),
    ("  # archc: ignore[ARC3]", False, True),
    ("  # archc: ignore", False, True),
    ("  # archc: ignore[ARC301]", False, False),
    ("# archc: ignore[ARC306] -- on the line before", True, True),
])
def test_inline_suppression(tmp_path, comment, line_before, suppressed):
    line = "  - act2: {op: relu}"
    text = BAD_ACT.replace(line, f"  {comment.strip()}\n{line}" if line_before else line + comment)
    p = write(tmp_path, "m.yaml", text)
    res = Linter(LintOptions(config=LintConfig())).lint_file(p)[0]
    assert ([d.code for d in res.diagnostics] == []) == suppressed
    assert res.suppressed == (1 if suppressed else 0)


def test_comment_at_the_end_of_the_line_before_does_not_suppress():
    text = "a: 1  # archc: ignore[ARC306]\nb: 2\n"
    assert not is_suppressed("ARC306", 2, text)
    assert is_suppressed("ARC306", 1, text)
    assert suppressions(text)[1].reason is None


def test_spec_errors_are_not_suppressible_or_ignorable(tmp_path):
    p = write(tmp_path, "m.yaml", BAD_ACT.replace("{op: linear, out: 64}", "{op: linear, out: 64, from: nowhere}  # archc: ignore"))
    assert run_codes([p], ignore=("ARC1",), config=LintConfig()) == ["ARC104"]


def test_library_files_are_checked_for_schema_only(tmp_path):
    lib = write(tmp_path, "lib/blocks.yaml", "archc: 1\nname: blocks\nblocks:\n  b:\n    params: {w: int, unused: 1}\n"
                "    layers:\n      - fc: {op: linear, out: \"${w}\"}\n")
    run = lint_paths([str(lib)], LintOptions(config=LintConfig()))
    assert run.results[0].kind == "library"
    assert [d.code for d in run.diagnostics] == ["ARC314"]  # a block param never read


def test_folders_skip_yaml_that_is_not_a_spec(tmp_path):
    write(tmp_path, "ci.yaml", "on: push\njobs: {}\n")
    write(tmp_path, "m.yaml", BAD_ACT)
    run = lint_paths([str(tmp_path)], LintOptions(config=LintConfig()))
    assert [r.file.endswith("m.yaml") for r in run.results] == [True]
    assert len(run.skipped) == 1


def test_findings_in_a_shared_library_are_reported_once():
    run = lint_paths(["specs/resnet.yaml", "specs/resnet18.yaml", "specs/resnet50.yaml"], LintOptions(config=LintConfig()))
    keys = [(d.code, d.span) for d in run.diagnostics]
    assert len(keys) == len(set(keys))


def test_parallel_run_matches_serial(tmp_path):
    fixtures = sorted(p for p in fixture("ARC301", "bad").parent.parent.glob("*/*.yaml"))
    for i, p in enumerate(fixtures):
        write(tmp_path, f"f{i:02d}.yaml", p.read_text())
    assert len(fixtures) >= 24
    serial = lint_paths([str(tmp_path)], LintOptions(config=LintConfig(), jobs=1))
    parallel = lint_paths([str(tmp_path)], LintOptions(config=LintConfig(), jobs=2))
    assert [(r.file, r.diagnostics) for r in parallel.results] == [(r.file, r.diagnostics) for r in serial.results]
    assert any(r.diagnostics for r in serial.results)
