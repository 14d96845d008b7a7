"""No traceback, ever: randomly mutated real specs either load and infer, or raise DiagnosticError
whose every diagnostic has a known code and a real span. Anything else is a bug.

The mutations work on the text of the specs in `specs/` (delete / duplicate a line, truncate,
replace a token with one from a pool of keys, values, ops, expressions and garbage, re-indent).
The mutated file is written next to copies of `specs/` and `specs/lib/`, so imports and
`extends:` resolve as they do for the real specs. Torch-free: `load_spec` + `infer` only.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import archc
from archc.diagnostics import CODES, DiagnosticError
from tests.fuzz.harness import IMPORTERS, POOL, SPECS, TEXT_EDITS, TOKEN

REPO = Path(__file__).resolve().parent.parent

# the seeds, the token pattern, the replacement pool and the edit kinds are the fuzzer's (tests/fuzz/harness.py,
# which also runs them through `archc check` and `archc lint`: `make fuzz`)
MUTATIONS = TEXT_EDITS


def mutate(text: str, data: st.DataObject) -> str:
    lines = text.split("\n")
    kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    if kind == "truncate":
        return text[: data.draw(st.integers(0, len(text)), label="at")]
    if not lines:
        return text
    i = data.draw(st.integers(0, len(lines) - 1), label="line")
    if kind == "delete_line":
        del lines[i]
    elif kind == "duplicate_line":
        lines.insert(i, lines[i])
    elif kind == "swap_lines":
        j = data.draw(st.integers(0, len(lines) - 1), label="other line")
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "indent":
        delta = data.draw(st.sampled_from([-4, -2, -1, 1, 2, 4]), label="indent")
        stripped = lines[i].lstrip(" ")
        lines[i] = " " * max(0, len(lines[i]) - len(stripped) + delta) + stripped
    else:  # replace_token
        tokens = list(TOKEN.finditer(text))
        if not tokens:
            return text
        m = data.draw(st.sampled_from(tokens), label="token")
        new = data.draw(st.sampled_from(POOL), label="replacement")
        return text[: m.start()] + new + text[m.end():]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("mutants")
    shutil.copytree(REPO / "specs", d / "specs")
    return d / "specs"


# Overrides given through the Python API are located in a pseudo-source `<overrides>` (see
# test_api_override_diagnostics_have_a_span below), so no diagnostic is exempt from having a span.
SPANLESS_WITH_API_OVERRIDES: set[str] = set()


def _check_diagnostics(e: DiagnosticError, text: str, overrides: dict | None = None) -> None:
    assert e.diagnostics, f"DiagnosticError without diagnostics for:\n{text}"
    for d in e.diagnostics:
        assert d.code in CODES, f"unknown code {d.code} ({d.message}) for:\n{text}"
        s = d.span
        if s is None and overrides and d.code in SPANLESS_WITH_API_OVERRIDES:
            continue
        assert s is not None, f"{d.code} {d.message!r} has no span, for:\n{text}"
        assert s.file and s.line >= 1 and s.col >= 1, f"{d.code} {d.message!r} has a bad span {s!r}, for:\n{text}"


def check_mutant(workdir: Path, name: str, text: str, overrides: dict | None) -> None:
    """Load + infer the mutated `name`; anything but success or a well-formed DiagnosticError fails.

    A mutated main spec is written beside the real ones as `mutant.yaml`; a mutated library
    (`lib/X.yaml`) replaces lib/X.yaml for the duration and the main spec `X.yaml` importing it is
    loaded, so the mutation goes through block expansion.
    """
    if name.startswith("lib/"):
        target = workdir / name
        importer = IMPORTERS.get(Path(name).stem)
        entry = workdir / importer if importer else target
    else:
        target = entry = workdir / "mutant.yaml"
    original = target.read_bytes() if target.exists() else None
    target.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        loaded = archc.load_spec(str(entry))
        archc.infer(loaded, overrides=overrides).check()  # a spec that elaborates gives a well-formed IR
    except DiagnosticError as e:
        _check_diagnostics(e, text, overrides)
    except Exception as e:  # noqa: BLE001 - any other exception is the bug this test looks for
        raise AssertionError(f"{type(e).__name__}: {e}\nfor the mutated {name} (overrides {overrides}):\n{text}") from e
    finally:
        if original is not None and target != workdir / "mutant.yaml":
            target.write_bytes(original)


OVERRIDES = [None, {"H": 100}, {"B": 0}, {"depth": 2.5}, {"hidden": "wide"}, {"base": 3}, {"num_classes": 0}]


@pytest.mark.timeout(900)  # a hang guard, not a speed test: the speed is measured in benchmarks/refusal_speed.py
@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_specs_never_raise_anything_but_diagnostics(workdir: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(SPECS)), label="spec")
    text = SPECS[name]
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        text = mutate(text, data)
    overrides = data.draw(st.sampled_from(OVERRIDES), label="overrides")
    note(f"--- mutated {name} (overrides {overrides}) ---\n{text}\n---")
    check_mutant(workdir, name, text, overrides)  # a hang fails the test's timeout (pytest-timeout)


def test_api_override_diagnostics_have_a_span() -> None:
    with pytest.raises(DiagnosticError) as info:
        archc.infer(str(REPO / "specs" / "mlp.yaml"), overrides={"hiden": 512})
    (d,) = info.value.diagnostics
    assert d.code == "ARC114"
    assert d.span is not None
