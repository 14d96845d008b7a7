"""The corpus of broken specs (`tests/bad/*.yaml`) against their golden diagnostics.

Each corpus file is run through `archc check` (in-process, from the repository root, so the paths
in the goldens are relative and stable). The golden `tests/golden/bad/NAME.txt` holds `exit: N`
on its first line and then the exact stderr (color off: stderr is not a tty here).

Directives in a corpus file's first lines (YAML comments):
  `# args: --set H=100`   extra command-line arguments for `archc check`
  `# pad: N`              the spec is padded with comment lines to N bytes before checking
                          (so the 1 MB "file too large" case needs no 1 MB file in the repo)

Regenerate the goldens with `UPDATE_GOLDEN=1 pytest tests/test_bad_specs.py`.

Besides the byte-exact goldens, `EXPECT` states what each case must report (codes, primary span,
a message fragment) so a golden can't silently drift to a wrong answer on regeneration. Cases
that show a known bug carry `bug=...`: their expectation is `xfail(strict=True)` and flips to a
failure (XPASS) once the bug is fixed; then drop `bug=` and regenerate the golden.
"""
from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

REPO = Path(__file__).resolve().parent.parent
BAD = REPO / "tests" / "bad"
GOLDEN = REPO / "tests" / "golden" / "bad"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

CASES = sorted(p.stem for p in BAD.glob("*.yaml"))

# Every diagnostic code that input (a spec file, --set, --variant, --param-limit) can trigger.
REQUIRED_CODES = (
    {f"ARC00{i}" for i in range(1, 8)}
    | {f"ARC1{i:02d}" for i in range(1, 19)}
    | {f"ARC20{i}" for i in range(1, 7)} | {"ARC208", "ARC209"}
    | {"ARC601"}
)


USAGE_CASES = {"075_set_without_value"}

# Cases where archc crashes (exit 4, "internal error"): their golden test is xfail(strict=True) too.
# Once fixed, regenerate the golden (UPDATE_GOLDEN=1) and remove the entry.
CRASHES: dict[str, str] = {}


def _directives(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(path, "rb") as f:
        for raw in f.read(4096).splitlines():
            line = raw.decode("utf-8", "replace")
            m = re.match(r"#\s*(args|pad):(.*)$", line)
            if not m:
                break
            out[m.group(1)] = m.group(2).strip()
    return out


@dataclass
class Run:
    exit_code: int
    stderr: str
    stdout: str


def run_case(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> Run:
    src = BAD / f"{name}.yaml"
    rel = src.relative_to(REPO)
    d = _directives(src)
    args = shlex.split(d.get("args", ""))
    if "pad" in d:
        # rebuild the same relative path under tmp_path, padded, and run from there
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        if not data.endswith(b"\n"):
            data += b"\n"
        size = int(d["pad"])
        filler = b"# " + b"x" * 77 + b"\n"
        data += filler * ((size - len(data)) // len(filler) + 1)
        target.write_bytes(data)
        monkeypatch.chdir(tmp_path)
    else:
        monkeypatch.chdir(REPO)
    monkeypatch.setenv("NO_COLOR", "1")
    res = CliRunner().invoke(app, ["check", str(rel), *args, *extra])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"`archc check {rel}` raised {type(res.exception).__name__}: {res.exception}")
    return Run(res.exit_code, res.stderr, res.stdout)


def golden_text(run: Run) -> str:
    return f"exit: {run.exit_code}\n{run.stderr}"


def _golden_params():
    for name in CASES:
        reason = CRASHES.get(name)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", list(_golden_params()))
def test_bad_spec_matches_golden(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_case(name, tmp_path, monkeypatch)
    golden = GOLDEN / f"{name}.txt"
    got = golden_text(run)
    if UPDATE:  # written before the checks below, so that they still fail loudly on a bad snapshot
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(got, encoding="utf-8")
    for text in (run.stderr, run.stdout):
        assert "Traceback" not in text
        assert "internal error" not in text, text
    assert run.exit_code == (2 if name in USAGE_CASES else 1), run.stderr
    assert run.stdout == "", "diagnostics belong on stderr"
    assert golden.exists(), f"no golden for {name}: run with UPDATE_GOLDEN=1"
    assert got == golden.read_text(encoding="utf-8")


def test_every_case_has_a_golden_and_an_expectation() -> None:
    goldens = {p.stem for p in GOLDEN.glob("*.txt")}
    assert set(CASES) == goldens, "stale or missing goldens (run with UPDATE_GOLDEN=1 and delete stale ones)"
    assert set(CASES) == set(EXPECT), "every corpus file needs an entry in EXPECT"
    assert len(CASES) >= 40


def _golden_codes() -> set[str]:
    codes: set[str] = set()
    for p in GOLDEN.glob("*.txt"):
        codes |= set(re.findall(r"^(?:error|warning|info)\[(ARC\d{3})\]", p.read_text(encoding="utf-8"), re.M))
    return codes


def test_corpus_covers_every_input_triggerable_code() -> None:
    missing = REQUIRED_CODES - _golden_codes()
    assert not missing, f"no corpus case shows {sorted(missing)}"


def test_corpus_has_a_usage_error_case() -> None:
    for name in USAGE_CASES:
        assert (GOLDEN / f"{name}.txt").read_text(encoding="utf-8").startswith("exit: 2\n")


# ------------------------------------------------------------------------------------------------
# What each case must report, independently of the exact rendering.


@dataclass(frozen=True)
class Expect:
    codes: tuple[str, ...]                 # the codes, in order (exact=True) or a required subset
    span: tuple[int, ...] | None = None    # primary span of the first diagnostic: (line, col[, end_line, end_col])
    msg: str | None = None                 # a fragment of the first diagnostic's message
    exact: bool = True
    bug: str | None = None                 # a known archc bug: the expectation is xfail(strict=True)


EXPECT: dict[str, Expect] = {
    "001_yaml_syntax_unclosed_flow": Expect(("ARC001",), (6, 21)),
    "002_yaml_bad_indentation": Expect(("ARC001",), (9, 4)),
    "003_duplicate_yaml_key": Expect(("ARC002",), (11, 7), "duplicate key `out`"),
    "004_unsafe_python_tag": Expect(("ARC003",), (4, 11), "!!python/object/apply:os.system"),
    "005_alias_bomb": Expect(("ARC004",), None, "expands the document past"),
    "006_deep_nesting": Expect(("ARC005",), None, "deeper than 64"),
    "007_file_too_large": Expect(("ARC006",), (1, 1), "the limit is 1,000,000 bytes"),
    "008_not_utf8": Expect(("ARC007",), (3, 10), "not valid UTF-8"),
    "010_typo_key_kernal": Expect(
        ("ARC101",), (9, 34, 9, 40), "unknown key `kernal`", exact=False),
    "011_typo_top_level_key": Expect(("ARC101",), (5, 1), "unknown key `input`"),
    "012_typo_op_conv2": Expect(("ARC113",), (9, 17), "unknown op `conv2`"),
    "013_wrong_type_string_int": Expect(
        ("ARC102", "ARC102"), (8, 28), "`out` in `fc1` (linear)"),
    "014_wrong_type_float_out": Expect(("ARC102",), (9, 28), "`out` in `fc1` (linear)"),
    "015_missing_required_attr": Expect(("ARC103",), (8, 5), "missing key `out` in `fc1` (linear)"),
    "016_missing_version": Expect(("ARC103",), (1, 1), "missing `archc:`"),
    "017_undefined_from": Expect(("ARC104",), (10, 39), "`actt`, which is not defined"),
    "018_forward_reference": Expect(("ARC104",), (9, 5), "`fc2`, which is defined later"),
    "019_undefined_symbol_in_input": Expect(("ARC104",), (7, 28), "symbol `Wd`"),
    "020_duplicate_node_id": Expect(
        ("ARC105",), (10, 5), "node id `fc` is already used"),
    "021_cycle_via_from": Expect(("ARC106",), (8, 5), "cycle: a -> c -> b -> a"),
    "022_block_uses_itself": Expect(("ARC106",), (11, 9), "block `tower` uses itself"),
    "023_expr_syntax_error": Expect(("ARC107",), (9, 38), "invalid syntax"),
    "024_expr_attribute_access": Expect(
        ("ARC107",), (9, 31, 9, 38), "attribute access is not allowed"),
    "025_expr_import_call": Expect(("ARC107",), (9, 31)),
    "026_expr_undefined_name": Expect(("ARC108",), (9, 31), "name `hiden` is not defined"),
    "027_expr_division_by_zero": Expect(("ARC108",), (9, 41), "division by zero"),
    "028_expr_huge_power": Expect(("ARC108",), (8, 31), "exceeds the limit"),
    "029_missing_block_param": Expect(("ARC109",), (14, 5), "needs a value for `width`"),
    "030_unknown_block_arg": Expect(("ARC116",), (14, 47), "has no param `dropout`"),
    "031_unknown_block": Expect(("ARC113",), (13, 21), "unknown block `dens`"),
    "032_block_param_wrong_type": Expect(("ARC102",), (13, 42), "must be int"),
    "033_unknown_variant": Expect(("ARC110",), (1, 11), "unknown variant `resnet19`"),
    "034_unsupported_version": Expect(("ARC111",), (1, 8), "version 2"),
    "035_import_not_found": Expect(("ARC112",), (3, 11), "import `resnte` not found"),
    "036_import_escapes_dotdot": Expect(
        ("ARC112",), (3, 11), "escapes"),
    "037_import_absolute_path": Expect(
        ("ARC112",), (3, 11), "escapes"),
    "040_set_unknown_name": Expect(("ARC114",), (1, 7), "`hiden` is not a param or symbol"),
    "041_set_symbol_not_int": Expect(
        ("ARC114", "ARC114"), (1, 9), "symbol `B` must be set to a positive integer"),
    "042_variant_sets_unknown_param": Expect(("ARC114",), (6, 9), "sets `hiddne`"),
    "043_repeat_too_large": Expect(("ARC115",), (9, 43), "the limit is 10000"),
    "044_param_symbol_clash": Expect(("ARC117",), (6, 3), "`H` is both a param and a symbol"),
    "045_tie_missing_param": Expect(("ARC118",), (11, 30), "`to: encoder.weight` names no parameter"),
    "046_tie_shape_differs": Expect(("ARC118",), (11, 5), "shapes differ"),
    "050_residual_without_projection": Expect(("ARC201",), (12, 5), "128 vs 64"),
    "051_concat_spatial_mismatch": Expect(("ARC201",), (11, 5), "64 vs 32"),
    "052_dtype_mismatch": Expect(("ARC202",), (8, 5), "int64"),
    "053_unet_h100": Expect(("ARC203",), (1, 9), "H = 100 does not satisfy `H % 16 == 0`"),
    "054_symbol_out_of_range": Expect(("ARC203",), (1, 9), "outside its declared range"),
    "055_groups_not_dividing": Expect(("ARC204",), (9, 5), "not divisible by groups=5"),
    "056_conv_on_flat_input": Expect(("ARC205",), (8, 5), "rank-4"),
    "057_kernel_bigger_than_input": Expect(("ARC206",), (8, 5), "would be -1"),
    "058_linear_forgot_flatten": Expect(("ARC204",), (12, 5), "got `W`"),
    "059_param_limit": Expect(("ARC601",), (9, 5), "over the limit of 1,000"),
    "060_several_errors": Expect(
        ("ARC101", "ARC113", "ARC103", "ARC102"), (9, 42, 9, 46), "unknown key `bais`", exact=False),
    "061_several_elaboration_errors": Expect(("ARC108", "ARC104", "ARC108"), (9, 32), "`hiden`"),
    "062_concat_rank_mismatch": Expect(("ARC205",), (10, 5), "same rank"),
    "063_block_input_count": Expect(("ARC102",), (10, 5), "takes 2 input(s)"),
    "064_output_undefined": Expect(
        ("ARC102",), (12, 29), "`kind` in `outputs.probs` must be one of"),
    "065_input_zero_dim": Expect(("ARC206",), (6, 18), "must be positive"),
    "066_output_index_out_of_range": Expect(("ARC104",), (9, 39), "`fc[1]` does not exist"),
    "067_when_not_bool": Expect(("ARC102",), (10, 42), "must be true or false"),
    "068_repeat_in_seq_item": Expect(("ARC102",), (11, 58), "which another item of `stack` already has"),
    "069_block_def_typo_layer": Expect(("ARC103", "ARC101"), (8, 3), "missing key `layers`"),
    "070_tab_indentation": Expect(("ARC001",), (4, 1)),
    "071_spec_is_a_list": Expect(("ARC102",), (1, 1), "must be a YAML mapping"),
    "072_empty_file": Expect(("ARC102",), (1, 1), "must be a YAML mapping"),
    "073_extends_with_layers": Expect(("ARC101",), (5, 1), "`layers` is not allowed here"),
    "074_extends_missing_base": Expect(("ARC112",), (3, 10), "`resnett`"),
    "075_set_without_value": Expect(()),
    "076_bad_name_and_node_id": Expect(("ARC102", "ARC102"), (2, 7), "`name` must be"),
    "077_block_missing_layers_and_ops_key": Expect(("ARC103", "ARC102"), (8, 3), "missing key `layers`"),
    "079_symbol_example_zero": Expect(
        ("ARC102",), (4, 16), "must be greater than 0"),
    "080_set_float_for_int_param": Expect(
        ("ARC114",), (1, 13), "`depth` is an integer in the spec"),
    "081_default_variant_unknown": Expect(
        ("ARC110",), (3, 10), "unknown variant `larg`"),
    "082_block_defined_twice": Expect(("ARC105",), (8, 3), "block `basic` is defined twice"),
    "083_import_broken_library": Expect(("ARC113",), (9, 19), "unknown op `linaer`"),
    "084_matmul_inner_mismatch": Expect(("ARC203",), (5, 16), "`64 == T`"),
    "096_unet_skip_wrong_level": Expect(("ARC201",), (19, 30), "`up2.cat` (concat) joins `down1` [B, 8, H//2, W//2], "
                                        "taken by the `from:` of `up2`, and `up2.upconv`"),
    "085_when_channels_of_unknown_node": Expect(("ARC108",), (11, 25), "name `imgae` is not defined"),
    "086_block_param_unknown_type": Expect(("ARC102",), None, "integer"),
    "088_shape_query_on_symbolic_dim": Expect(("ARC208",), (12, 31), "`dim(flat, 2)` is `H*W`"),
    "089_set_hidden_past_int64": Expect(("ARC209",), (12, 5), "`fc2` (linear) parameter `weight` of shape [10,000,000,000, 10,000,000,000]"),
    "090_stride_past_int64": Expect(("ARC209",), (8, 53), "`stride` in `conv1` (conv2d) is 100000...000 (31 digits)"),
    "091_example_size_past_int64": Expect(("ARC209",), (4, 16), "B = 100,000,000,000,000,000,000 is past"),
    "092_node_id_is_a_module_attribute": Expect(
        ("ARC102", "ARC102"), (13, 5), "`training` cannot be a module name"),
    "093_from_empty_on_repeat": Expect(("ARC102",), (9, 27), "`act` has `from: []`"),
    "094_import_library_yaml_error": Expect(("ARC001",), (8, 7), "expected ',' or '}', but got '-'"),
    "095_select_past_symbolic_size": Expect(("ARC204",), (9, 5), "index=10 is out of range for dim 1 of size T = 4"),
    "097_select_fails_at_second_size": Expect(("ARC204",), (9, 5), "at B=3, T=7 (a size the spec's symbols allow"),
    "098_index_from_ultralytics": Expect(("ARC102", "ARC102", "ARC102"), (11, 27), "`from` in `act` (relu) names nodes, not layer indexes; got -1"),
    "087_conv_stride_zero": Expect(
        ("ARC102",), (8, 53), "stride"),
}

# Targeted checks of single diagnostics that the per-file expectation above doesn't isolate (each was
# a bug once: the reason says what it guards against).
EXTRA_BUGS: dict[str, tuple[int, str, tuple[int, int] | None, str]] = {
    # name: (index of the diagnostic, message fragment, (line, col) or None, reason)
    "076_bad_name_and_node_id": (
        1, "`1st_layer`", (8, 5),
        "a node id that is not an identifier is reported at its value with 'got dict' instead of at the id"),
    "077_block_missing_layers_and_ops_key": (
        1, "`hidden`", (11, 5),
        "a node without op/block/seq is described as 'the spec: a node needs ...' instead of naming `hidden`"),
    "074_extends_missing_base": (
        0, "extends", (3, 10),
        "a missing `extends:` base is reported as 'import `resnett` not found', naming an import that isn't there"),
}


def _json_diags(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    run = run_case(name, tmp_path, monkeypatch, "--json")
    assert run.exit_code == 1, run.stderr + run.stdout
    doc = json.loads(run.stdout)
    return doc["diagnostics"]


def _expect_params():
    for name in sorted(EXPECT):
        e = EXPECT[name]
        marks = [pytest.mark.xfail(strict=True, reason=e.bug)] if e.bug else []
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", list(_expect_params()))
def test_bad_spec_expectation(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    e = EXPECT[name]
    if name in USAGE_CASES:
        run = run_case(name, tmp_path, monkeypatch)
        assert run.exit_code == 2 and run.stderr.startswith("archc: error: ")
        return
    diags = _json_diags(name, tmp_path, monkeypatch)
    codes = tuple(d["code"] for d in diags)
    if e.exact:
        assert codes == e.codes
    else:
        assert set(e.codes) <= set(codes)
    for d in diags:
        s = d["span"]
        assert s is not None and s["line"] >= 1 and s["col"] >= 1, d
    first = next(d for d in diags if d["code"] == e.codes[0])  # the first one with the leading code
    if e.msg is not None:
        assert e.msg in first["message"]
    if e.span is not None:
        s = first["span"]
        got = (s["line"], s["col"], s["end_line"], s["end_col"])[: len(e.span)]
        assert got == e.span


@pytest.mark.parametrize("name", [pytest.param(n, id=n)
                                  for n in sorted(EXTRA_BUGS)])
def test_bad_spec_known_bug(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index, fragment, span, _ = EXTRA_BUGS[name]
    d = _json_diags(name, tmp_path, monkeypatch)[index]
    assert fragment in d["message"]
    if span is not None:
        assert (d["span"]["line"], d["span"]["col"]) == span


@pytest.mark.parametrize("name,excerpt", [
    pytest.param("082_block_defined_twice", "8 |   basic:", id="082_block_defined_twice"),
    pytest.param("083_import_broken_library", "9 |       - fc2: {op: linaer", id="083_import_broken_library"),
])
def test_library_diagnostics_show_their_source_line(name: str, excerpt: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_case(name, tmp_path, monkeypatch)
    assert excerpt in run.stderr
