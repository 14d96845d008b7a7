from archc.diagnostics import Diagnostic, Related, Span
from archc.report.text import render_diagnostic, render_diagnostics

UNET = "\n" * 38 + "  - up4: {op: conv_transpose2d, ...}\n  - cat4: {op: concat, from: [up4, enc3]}\n"
SOURCES = {"specs/unet.yaml": UNET, "a.yaml": "model:\n  width: 12\n  act: relu6\n"}


def test_simple_error_single_caret_from_token_of_one_char():
    d = Diagnostic("ARC101", "unknown key `x`", Span("a.yaml", 2, 3, 2, 4))
    assert render_diagnostic(d, SOURCES) == (
        "error[ARC101]: unknown key `x`\n"
        " --> a.yaml:2:3\n"
        "  |\n"
        "2 |   width: 12\n"
        "  |   ^"
    )


def test_caret_without_end_covers_non_space_run():
    d = Diagnostic("ARC102", "bad value", Span("a.yaml", 3, 8))
    assert render_diagnostic(d, SOURCES) == (
        "error[ARC102]: bad value\n"
        " --> a.yaml:3:8\n"
        "  |\n"
        "3 |   act: relu6\n"
        "  |        ^^^^^"
    )


def test_multi_char_caret_from_span_end():
    d = Diagnostic("ARC101", "unknown key `width`", Span("a.yaml", 2, 3, 2, 8))
    assert render_diagnostic(d, SOURCES) == (
        "error[ARC101]: unknown key `width`\n"
        " --> a.yaml:2:3\n"
        "  |\n"
        "2 |   width: 12\n"
        "  |   ^^^^^"
    )


def test_multiline_span_uses_token_run():
    d = Diagnostic("ARC102", "bad mapping", Span("a.yaml", 1, 1, 3, 1))
    assert render_diagnostic(d, SOURCES).endswith("1 | model:\n  | ^^^^^^")


def test_related_note_and_hint_wide_gutter():
    d = Diagnostic(
        "ARC201",
        "shape mismatch in `cat4`: dim 2 is 24 from `up4` but 25 from `enc3`",
        Span("specs/unet.yaml", 40, 5, 40, 9),
        hint="the spec requires H % 16 == 0",
        related=(Related("`up4` produced [2, 512, 24, 24]", Span("specs/unet.yaml", 39, 5, 39, 8)),),
    )
    assert render_diagnostic(d, SOURCES) == (
        "error[ARC201]: shape mismatch in `cat4`: dim 2 is 24 from `up4` but 25 from `enc3`\n"
        "  --> specs/unet.yaml:40:5\n"
        "   |\n"
        "40 |   - cat4: {op: concat, from: [up4, enc3]}\n"
        "   |     ^^^^\n"
        "   |\n"
        "note: `up4` produced [2, 512, 24, 24]\n"
        "  --> specs/unet.yaml:39:5\n"
        "   |\n"
        "39 |   - up4: {op: conv_transpose2d, ...}\n"
        "   |     ^^^\n"
        "   = hint: the spec requires H % 16 == 0"
    )


def test_gutter_width_follows_widest_line_number():
    src = "x\n" * 120
    d = Diagnostic("ARC1", "m", Span("f", 7, 1), related=(Related("r", Span("f", 110, 1)),))
    assert render_diagnostic(d, {"f": src}) == (
        "error[ARC1]: m\n"
        "   --> f:7:1\n"
        "    |\n"
        "  7 | x\n"
        "    | ^\n"
        "    |\n"
        "note: r\n"
        "   --> f:110:1\n"
        "    |\n"
        "110 | x\n"
        "    | ^"
    )


def test_hint_only():
    d = Diagnostic("ARC102", "bad value", Span("a.yaml", 2, 10, 2, 12), hint="use an int")
    assert render_diagnostic(d, SOURCES) == (
        "error[ARC102]: bad value\n"
        " --> a.yaml:2:10\n"
        "  |\n"
        "2 |   width: 12\n"
        "  |          ^^\n"
        "  = hint: use an int"
    )


def test_missing_source_renders_location_only():
    d = Diagnostic("ARC104", "undefined reference `enc9`", Span("other.yaml", 12, 4), hint="check the id")
    assert render_diagnostic(d, SOURCES) == (
        "error[ARC104]: undefined reference `enc9`\n"
        "  --> other.yaml:12:4\n"
        "   = hint: check the id"
    )


def test_line_past_end_of_source_renders_location_only():
    d = Diagnostic("ARC104", "m", Span("a.yaml", 40, 1))
    assert render_diagnostic(d, SOURCES) == "error[ARC104]: m\n  --> a.yaml:40:1"


def test_no_span():
    d = Diagnostic("ARC110", "unknown variant `big`", hint="known variants: small, base\nor none")
    assert render_diagnostic(d, SOURCES) == (
        "error[ARC110]: unknown variant `big`\n"
        "  = hint: known variants: small, base\n"
        "          or none"
    )
    assert render_diagnostic(Diagnostic("ARC110", "m"), {}) == "error[ARC110]: m"


def test_warning_and_info():
    w = Diagnostic("ARC301", "bias before batchnorm", Span("a.yaml", 1, 1, 1, 6), severity="warning")
    assert render_diagnostic(w, SOURCES) == (
        "warning[ARC301]: bias before batchnorm\n"
        " --> a.yaml:1:1\n"
        "  |\n"
        "1 | model:\n"
        "  | ^^^^^"
    )
    i = Diagnostic("ARC207", "H % 16 == 0", Span("zz", 1, 1), severity="info")
    assert render_diagnostic(i, SOURCES) == "info[ARC207]: H % 16 == 0\n --> zz:1:1"


def test_related_without_span_is_a_note_line():
    d = Diagnostic("ARC1", "m", Span("a.yaml", 1, 1, 1, 2), related=(Related("see docs"),))
    assert render_diagnostic(d, SOURCES) == (
        "error[ARC1]: m\n --> a.yaml:1:1\n  |\n1 | model:\n  | ^\n  = note: see docs"
    )


def test_summary_line_and_separation():
    ds = [
        Diagnostic("ARC101", "a", Span("nofile", 1, 1)),
        Diagnostic("ARC301", "b", severity="warning"),
        Diagnostic("ARC102", "c"),
    ]
    assert render_diagnostics(ds, {}) == (
        "error[ARC101]: a\n --> nofile:1:1\n\n"
        "warning[ARC301]: b\n\n"
        "error[ARC102]: c\n\n"
        "2 errors, 1 warning"
    )
    assert render_diagnostics([], {}) == "0 errors, 0 warnings"
    assert render_diagnostics([ds[1]], {}).endswith("\n\n0 errors, 1 warning")
    assert render_diagnostics([Diagnostic("ARC207", "x", severity="info")], {}).endswith(
        "0 errors, 0 warnings, 1 info")


def test_tabs_are_expanded_consistently():
    d = Diagnostic("ARC1", "m", Span("t", 1, 3, 1, 6))
    assert render_diagnostic(d, {"t": "\t\tabc d"}) == (
        "error[ARC1]: m\n --> t:1:3\n  |\n1 |         abc d\n  |         ^^^"
    )
    d = Diagnostic("ARC1", "m", Span("t", 1, 3))
    assert render_diagnostic(d, {"t": "a\tbc"}).endswith("1 | a   bc\n  |     ^^")


def test_caret_past_end_of_line_is_one_caret():
    d = Diagnostic("ARC001", "unexpected end", Span("t", 1, 5))
    assert render_diagnostic(d, {"t": "ab"}).endswith("1 | ab\n  |     ^")
    d = Diagnostic("ARC001", "unexpected end", Span("t", 2, 1))
    assert render_diagnostic(d, {"t": "ab\n"}).endswith("2 |\n  | ^")


def test_long_lines_are_trimmed_around_the_caret():
    line = "x" * 300 + " target " + "y" * 300
    d = Diagnostic("ARC1", "m", Span("f", 1, 302, 1, 308))
    out = render_diagnostic(d, {"f": line}).splitlines()
    src, caret = out[3], out[4]
    assert src.startswith("1 | …") and src.endswith("…")
    assert len(src) == len("1 | ") + 200 + 2
    start = caret.index("^")
    assert caret.count("^") == 6
    assert src[start:start + 6] == "target"


def test_color_adds_ansi_and_plain_has_none():
    d = Diagnostic("ARC1", "m", Span("a.yaml", 1, 1, 1, 3), hint="h", severity="warning")
    plain = render_diagnostic(d, SOURCES)
    colored = render_diagnostic(d, SOURCES, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[1;33mwarning[ARC1]\x1b[0m" in colored
    assert "\x1b[1;33m^^\x1b[0m" in colored
    import re
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain
    e = render_diagnostics([Diagnostic("ARC1", "m")], {}, color=True)
    assert "\x1b[1;31merror[ARC1]\x1b[0m" in e
    assert re.sub(r"\x1b\[[0-9;]*m", "", e) == render_diagnostics([Diagnostic("ARC1", "m")], {})


def test_module_does_not_import_heavy_dependencies():
    import subprocess
    import sys
    code = ("import sys, archc.report.text, archc.spec.yaml_loader; "
            "bad = {'torch', 'rich', 'typer'} & set(sys.modules); assert not bad, bad")
    from pathlib import Path
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
