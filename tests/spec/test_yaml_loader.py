import math
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archc.diagnostics import DiagnosticError, Related, Span
from archc.spec.yaml_loader import DEFAULT_LIMITS, Limits, Loaded, SpanMap, load_yaml_file, load_yaml_text

F = "spec.yaml"


def errors(text, limits=DEFAULT_LIMITS, file=F):
    with pytest.raises(DiagnosticError) as info:
        load_yaml_text(text, file, limits)
    ds = info.value.diagnostics
    assert ds, "DiagnosticError without diagnostics"
    for d in ds:
        assert d.span is not None, d
        assert d.span.file == file
        assert d.span.line >= 1 and d.span.col >= 1
    return ds


def codes(text, limits=DEFAULT_LIMITS):
    return [d.code for d in errors(text, limits)]


# ---------------------------------------------------------------------------------------------
# values


def test_plain_values_and_types():
    L = load_yaml_text(
        "s: hello\ni: 42\nneg: -7\nhex: 0x1F\noct: 0o17\nsep: 1_000\nf: 1.5\nexp: 1e-3\nexp2: 2.5E+2\n"
        "inf: .inf\nninf: -.inf\nnan: .nan\nt: true\nfa: False\nn: null\ntilde: ~\nempty:\n"
        "q: '12'\nyes: yes\non: off\nday: 2020-01-01\nstamp: 2001-12-14t21:59:43.10-05:00\nsexa: 1:30\n"
        "zero: 010\nver: 1.2.3\n",
        F,
    )
    d = L.data
    assert isinstance(L, Loaded) and L.file == F and L.text.startswith("s: hello")
    assert d["s"] == "hello" and d["i"] == 42 and d["neg"] == -7 and d["hex"] == 31 and d["oct"] == 15
    assert d["sep"] == 1000 and d["f"] == 1.5 and d["exp"] == 0.001 and d["exp2"] == 250.0
    assert d["inf"] == math.inf and d["ninf"] == -math.inf and math.isnan(d["nan"])
    assert d["t"] is True and d["fa"] is False
    assert d["n"] is None and d["tilde"] is None and d["empty"] is None
    assert d["q"] == "12"
    # YAML 1.2 core schema: no yes/no/on/off booleans, no timestamps, no sexagesimal ints
    assert d["yes"] == "yes" and d["on"] == "off"
    assert d["day"] == "2020-01-01" and isinstance(d["stamp"], str) and d["sexa"] == "1:30"
    assert d["zero"] == 10 and d["ver"] == "1.2.3"
    assert type(d["i"]) is int and type(d["f"]) is float and type(d) is dict
    assert list(d) == list(dict.fromkeys(d))  # insertion order kept


def test_standard_explicit_tags_are_allowed():
    d = load_yaml_text("a: !!str 12\nb: !!int '7'\nc: !!float 3\nd: !!bool 'true'\ne: !!null ''\n"
                       "f: !!seq [1]\ng: !!map {x: 1}\nh: !<tag:yaml.org,2002:str> 5\ni: ! 12\n").data
    assert d == {"a": "12", "b": 7, "c": 3.0, "d": True, "e": None, "f": [1], "g": {"x": 1}, "h": "5", "i": 12}
    assert type(d["c"]) is float


def test_empty_and_comment_only_documents():
    for text in ("", "# nothing\n", "---\n", "\n\n"):
        L = load_yaml_text(text, F)
        assert L.data is None
        assert L.spans.nearest(("a",)) == Span(F, 1, 1)


def test_bom_is_stripped():
    L = load_yaml_text("\ufeffa: 1\n", F)
    assert L.data == {"a": 1} and L.text == "a: 1\n"
    assert L.spans.key(("a",)) == Span(F, 1, 1, 1, 2)


def test_aliases_expand_to_independent_copies():
    L = load_yaml_text("base: &b {x: [1, 2]}\nuse: *b\n", F)
    assert L.data == {"base": {"x": [1, 2]}, "use": {"x": [1, 2]}}
    assert L.data["base"] is not L.data["use"]
    assert L.data["base"]["x"] is not L.data["use"]["x"]
    # the alias value is located at `*b`, its contents at the anchored definition
    assert L.spans.value(("use",)) == Span(F, 2, 6, 2, 8)
    assert L.spans.value(("use", "x")) == L.spans.value(("base", "x")) == Span(F, 1, 14, 1, 20)


def test_merge_keys():
    text = (
        "defaults: &d {act: relu, bias: true, k: 3}\n"
        "other: &o {k: 5, drop: 0.1}\n"
        "conv:\n"
        "  k: 1\n"
        "  <<: [*d, *o]\n"
        "  name: c\n"
        "lin: {<<: *o, x: 1}\n"
        "inline: {<<: {a: 1}, b: 2}\n"
    )
    L = load_yaml_text(text, F)
    assert L.data["conv"] == {"k": 1, "act": "relu", "bias": True, "drop": 0.1, "name": "c"}
    assert list(L.data["conv"]) == ["k", "act", "bias", "drop", "name"]
    assert L.data["lin"] == {"k": 5, "drop": 0.1, "x": 1}
    assert L.data["inline"] == {"a": 1, "b": 2}
    assert L.spans.key(("conv", "k")) == Span(F, 4, 3, 4, 4)  # own key wins, with its own span
    assert L.spans.key(("conv", "act")) == Span(F, 1, 15, 1, 18)  # merged key points at its source
    assert "<<" not in L.data["conv"]


def test_nested_merge():
    d = load_yaml_text("a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\n").data
    assert d["c"] == {"x": 1, "y": 2, "z": 3}


# ---------------------------------------------------------------------------------------------
# spans


BLOCK = """\
model:
  name: unet
  layers:
    - conv: {k: 3, pads: [1, 1]}
    - id: up
      op: upsample
  flags: [a, b]
"""


def test_spans_block_and_flow():
    L = load_yaml_text(BLOCK, F)
    s = L.spans
    assert isinstance(s, SpanMap)
    assert s.key(("model",)) == Span(F, 1, 1, 1, 6)
    assert s.key(("model", "name")) == Span(F, 2, 3, 2, 7)
    assert s.value(("model", "name")) == Span(F, 2, 9, 2, 13)
    assert s.key(("model", "layers")) == Span(F, 3, 3, 3, 9)
    # block sequence item 0: a flow mapping
    assert s.value(("model", "layers", 0)).line == 4 and s.value(("model", "layers", 0)).col == 7
    assert s.key(("model", "layers", 0, "conv")) == Span(F, 4, 7, 4, 11)
    assert s.value(("model", "layers", 0, "conv")) == Span(F, 4, 13, 4, 33)
    assert s.key(("model", "layers", 0, "conv", "k")) == Span(F, 4, 14, 4, 15)
    assert s.value(("model", "layers", 0, "conv", "k")) == Span(F, 4, 17, 4, 18)
    assert s.value(("model", "layers", 0, "conv", "pads")) == Span(F, 4, 26, 4, 32)
    assert s.value(("model", "layers", 0, "conv", "pads", 1)) == Span(F, 4, 30, 4, 31)
    # block sequence item 1: a block mapping
    assert s.key(("model", "layers", 1, "id")) == Span(F, 5, 7, 5, 9)
    assert s.value(("model", "layers", 1, "id")) == Span(F, 5, 11, 5, 13)
    assert s.key(("model", "layers", 1, "op")) == Span(F, 6, 7, 6, 9)
    assert s.value(("model", "layers", 1, "op")) == Span(F, 6, 11, 6, 19)
    assert s.value(("model", "flags", 0)) == Span(F, 7, 11, 7, 12)
    assert s.value(("model", "flags", 1)) == Span(F, 7, 14, 7, 15)
    assert s.value(("model", "flags")) == Span(F, 7, 10, 7, 16)
    # sequence indexes have no key span; unknown paths have no span
    assert s.key(("model", "layers", 0)) is None
    assert s.value(("model", "nope")) is None and s.key(("nope",)) is None
    assert s.value(()).line == 1 and s.value(()).col == 1


def test_quoted_and_multiline_values():
    L = load_yaml_text('a: "x y"\nb: |\n  line1\n  line2\nc: \'q\'\n', F)
    assert L.data == {"a": "x y", "b": "line1\nline2\n", "c": "q"}
    assert L.spans.value(("a",)) == Span(F, 1, 4, 1, 9)
    assert L.spans.value(("b",)).line == 2 and L.spans.value(("b",)).end_line == 5
    assert L.spans.value(("c",)) == Span(F, 5, 4, 5, 7)


def test_nearest():
    s = load_yaml_text(BLOCK, F).spans
    # longest known prefix; mapping entries prefer the key span
    assert s.nearest(("model", "layers", 1, "op", "extra", 3)) == Span(F, 6, 7, 6, 9)
    assert s.nearest(("model", "missing")) == Span(F, 1, 1, 1, 6)
    # sequence items use the value span
    assert s.nearest(("model", "layers", 0, "nope")) == s.value(("model", "layers", 0))
    assert s.nearest(("model", "flags", 1)) == s.value(("model", "flags", 1))
    assert s.nearest(()) == Span(F, 1, 1)
    assert s.nearest(("zzz",)) == Span(F, 1, 1)
    assert s.nearest(["model", "name"]) == Span(F, 2, 3, 2, 7)  # lists are accepted too


def test_root_list_and_scalar():
    L = load_yaml_text("- a\n- [b, c]\n", F)
    assert L.data == ["a", ["b", "c"]]
    assert L.spans.value((1, 0)) == Span(F, 2, 4, 2, 5)
    assert load_yaml_text("42").data == 42


# ---------------------------------------------------------------------------------------------
# ARC001 syntax


def test_syntax_error_location_and_message():
    (d,) = errors("a: 1\nb: c: d\n")
    assert d.code == "ARC001"
    assert d.message == "mapping values are not allowed here"
    assert (d.span.line, d.span.col) == (2, 5)
    assert d.hint


def test_syntax_error_with_context_hint():
    (d,) = errors('name: "unterminated\n')
    assert d.code == "ARC001"
    assert d.message == "found unexpected end of stream"
    assert "while scanning a quoted scalar" in d.hint and "line 1, column 7" in d.hint


def test_syntax_error_tab_indentation():
    (d,) = errors("a:\n\tb: 1\n")
    assert d.code == "ARC001" and (d.span.line, d.span.col) == (2, 1)
    assert "tab" in d.hint


@pytest.mark.parametrize("text", [
    "a: [1, 2\n", "{a: 1", "- a\nb: 1\n", "a: *undefined\n", "a: 1\n---\nb: 2\n",
    "a: &x 1\nb: &x 2\n", "a: !e!tag 1\n", "key: @x\n", "\x00", "a: \x07\n",
])
def test_syntax_errors_are_arc001(text):
    assert set(codes(text)) == {"ARC001"}


def test_control_character_position():
    (d,) = errors("ok: 1\nbad: x\x01y\n")
    assert d.code == "ARC001" and (d.span.line, d.span.col) == (2, 7)
    assert "U+0001" in d.message


def test_duplicate_anchor_points_at_first():
    (d,) = errors("a: &x 1\nb: &x 2\n")
    assert (d.span.line, d.span.col) == (2, 4)
    assert d.related[0].span.line == 1


# ---------------------------------------------------------------------------------------------
# ARC002 duplicate keys


def test_duplicate_key_points_at_second_with_first_related():
    (d,) = errors("a: 1\nb: 2\na: 3\n")
    assert d.code == "ARC002"
    assert d.span == Span(F, 3, 1, 3, 2)
    assert d.related == (Related("first defined here", Span(F, 1, 1, 1, 2)),)
    assert "`a`" in d.message


def test_all_duplicates_reported():
    ds = errors("a: 1\na: 2\nm:\n  x: 1\n  y: 2\n  x: 3\nl: [{k: 1, k: 2}]\na: 4\n")
    assert [d.code for d in ds] == ["ARC002"] * 4
    assert [(d.span.line, d.span.col) for d in ds] == [(2, 1), (6, 3), (7, 12), (8, 1)]
    assert [d.related[0].span.line for d in ds] == [1, 4, 7, 1]


def test_duplicate_key_inside_anchor_reported_once():
    ds = errors("a: &a {x: 1, x: 2}\nb: *a\nc: {<<: *a}\n")
    assert [d.code for d in ds] == ["ARC002"]


def test_override_of_merged_key_is_not_a_duplicate():
    assert load_yaml_text("a: &a {x: 1}\nb: {<<: *a, x: 2}\n").data["b"] == {"x": 2}


def test_duplicate_merge_key():
    assert codes("a: &a {x: 1}\nb: {<<: *a, <<: *a}\n") == ["ARC002"]


# ---------------------------------------------------------------------------------------------
# ARC003 tags


@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system ['ls']", "!!python/name:os.system ''", "!!python/tuple [1]",
    "!foo 1", "!!binary aGVsbG8=", "!!timestamp 2020-01-01", "!!set {a}", "!!omap [{a: 1}]",
    "!!pairs [{a: 1}]", "!<tag:example.com,2000:x> 1", "!!merge x", "!!value x",
])
def test_unsafe_tags(tag):
    (d,) = errors(f"key: {tag}\n")
    assert d.code == "ARC003"
    assert (d.span.line, d.span.col) == (1, 6)
    assert d.span.end_col > d.span.col
    assert d.hint == "a spec is data; archc never constructs Python objects from YAML"


def test_unsafe_tag_reported_at_tag_after_anchor_and_all_reported():
    ds = errors("a: &x !!python/object:os.system {}\nb:\n  - !!python/bytes YQ==\nc: *x\n")
    assert [d.code for d in ds] == ["ARC003", "ARC003"]
    assert (ds[0].span.line, ds[0].span.col) == (1, 7)
    assert ds[0].span.end_col == 1 + len("a: &x !!python/object:os.system")
    assert (ds[1].span.line, ds[1].span.col) == (3, 5)


def test_unsafe_tag_on_next_line_after_anchor():
    (d,) = errors("a: &x\n  !!set {}\n")
    assert d.span == Span(F, 2, 3, 2, 8)


def test_unsafe_tag_on_key():
    assert codes("? !!python/tuple [1, 2]\n: x\n")[0] == "ARC003"


def test_explicit_standard_tag_with_bad_value_is_arc102():
    assert codes("a: !!int abc\n") == ["ARC102"]
    assert codes("a: !!bool maybe\n") == ["ARC102"]
    assert codes("a: !!map [1]\n") == ["ARC102"]
    assert codes("a: !!seq x\n") == ["ARC102"]


# ---------------------------------------------------------------------------------------------
# ARC004 alias bombs and recursion


def billion_laughs(levels=9, refs=10):
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * refs) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * refs) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(30)  # a hang guard, not a speed test: the speed is measured in benchmarks/refusal_speed.py
def test_billion_laughs_rejected():
    text = billion_laughs()
    ds = errors(text)
    assert [d.code for d in ds] == ["ARC004"]
    d = ds[0]
    # reported at the alias whose expansion crosses the limit
    line = text.splitlines()[d.span.line - 1]
    assert line[d.span.col - 1] == "*"


def test_small_alias_fan_out_is_fine_but_limit_counts_expansions():
    text = billion_laughs(levels=3, refs=10)  # 1 + 10 + (1 + 10*11) + (1 + 10*111) + root ~ 1300 nodes
    assert len(load_yaml_text(text).data["l2"]) == 10
    assert codes(text, Limits(max_nodes=500)) == ["ARC004"]


def test_node_limit_without_aliases():
    ds = errors("[" + ", ".join(["1"] * 100) + "]", Limits(max_nodes=50))
    assert [d.code for d in ds] == ["ARC004"]


def test_merge_expansion_counts_towards_limit():
    text = billion_laughs(levels=2, refs=30) + "m: &m {a: *l1}\n" + "".join(
        f"x{i}: {{<<: *m}}\n" for i in range(20))
    load_yaml_text(text)
    assert "ARC004" in codes(text, Limits(max_nodes=3000))


@pytest.mark.parametrize("text", [
    "a: &a [*a]\n", "a: &a {b: *a}\n", "&a [1, [2, *a]]\n", "a: &a {<<: *a}\n", "&r {x: &s [*r, *s]}\n",
    "&k {? *k : 1}\n",
])
@pytest.mark.timeout(30)  # a hang guard, not a speed test: the speed is measured in benchmarks/refusal_speed.py
def test_recursive_aliases(text):
    ds = errors(text)
    assert ds[0].code == "ARC004" and "recursive" in ds[0].message


# ---------------------------------------------------------------------------------------------
# ARC005 nesting


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    "{a: " * 100_000 + "}" * 100_000,
    "[" * 100_000,
    "- " * 100_000 + "x\n",
    "".join("  " * i + "a:\n" for i in range(200)),
], ids=["flow-seq", "flow-map", "unclosed", "block-seq", "block-map"])
@pytest.mark.timeout(30)  # a hang guard, not a speed test: the speed is measured in benchmarks/refusal_speed.py
def test_deep_nesting(text):
    ds = errors(text)
    assert [d.code for d in ds] == ["ARC005"]
    assert "64" in ds[0].message


def test_depth_limit_boundary():
    ok = "[" * 64 + "]" * 64
    assert load_yaml_text(ok).data is not None
    (d,) = errors("[" * 65 + "]" * 65)
    assert d.code == "ARC005" and (d.span.line, d.span.col) == (1, 65)
    assert load_yaml_text("[[[]]]", limits=Limits(max_depth=3)).data == [[[]]]
    assert codes("[[[[]]]]", Limits(max_depth=3)) == ["ARC005"]


def test_depth_through_aliases_is_bounded():
    text = "a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n"
    (d,) = errors(text)
    assert d.code == "ARC005" and d.span.line == 2 and "*a" in d.message


def test_long_alias_chain_does_not_overflow_recursion():
    # each level wraps the previous one: expanded depth grows linearly with the number of anchors
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 3000)]
    ds = errors("\n".join(lines) + "\n")
    assert [d.code for d in ds] == ["ARC005"]


# ---------------------------------------------------------------------------------------------
# ARC006 size


def test_oversized_text():
    (d,) = errors("a: " + "x" * 1_000_000)
    assert d.code == "ARC006" and d.span == Span(F, 1, 1)
    assert codes("a: 12345", Limits(max_bytes=5)) == ["ARC006"]
    # multi-byte characters count as bytes
    assert codes("é" * 3, Limits(max_bytes=5)) == ["ARC006"]
    assert load_yaml_text("é" * 2, limits=Limits(max_bytes=4)).data == "éé"


def test_oversized_file(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_bytes(b"a: " + b"x" * 2000)
    with pytest.raises(DiagnosticError) as info:
        load_yaml_file(p, limits=Limits(max_bytes=1000))
    (d,) = info.value.diagnostics
    assert d.code == "ARC006" and "2,003 bytes" in d.message and d.span.file == str(p)


# ---------------------------------------------------------------------------------------------
# ARC007 files and encodings


def test_load_file_and_display_name(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("a: [1, 2]\n", encoding="utf-8")
    L = load_yaml_file(p, display="specs/m.yaml")
    assert L.data == {"a": [1, 2]} and L.file == "specs/m.yaml"
    assert L.spans.value(("a", 1)) == Span("specs/m.yaml", 1, 8, 1, 9)
    assert load_yaml_file(str(p)).file == str(p)
    p.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_yaml_file(p).data == {"a": 1}


def test_non_utf8_file(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: ok\nact: ré\n".encode("latin-1"))
    with pytest.raises(DiagnosticError) as info:
        load_yaml_file(p, display="x.yaml")
    (d,) = info.value.diagnostics
    assert d.code == "ARC007"
    assert d.span == Span("x.yaml", 2, 7, 2, 8)
    assert "0xe9" in d.message


def test_non_utf8_bytes_text():
    (d,) = errors(b"a: \xff\n")
    assert d.code == "ARC007" and (d.span.line, d.span.col) == (1, 4)
    assert load_yaml_text(b"a: 1").data == {"a": 1}


def test_utf16_is_not_accepted(tmp_path):
    p = tmp_path / "u16.yaml"
    p.write_bytes("a: 1\n".encode("utf-16"))
    with pytest.raises(DiagnosticError) as info:
        load_yaml_file(p)
    assert [d.code for d in info.value.diagnostics] == ["ARC007"]


def test_missing_and_unreadable_files(tmp_path):
    for target in (tmp_path / "nope.yaml", tmp_path):
        with pytest.raises(DiagnosticError) as info:
            load_yaml_file(target, display="shown.yaml")
        (d,) = info.value.diagnostics
        assert d.code == "ARC007" and d.span == Span("shown.yaml", 1, 1)


def test_empty_file(tmp_path):
    p = tmp_path / "e.yaml"
    p.write_bytes(b"")
    assert load_yaml_file(p).data is None


# ---------------------------------------------------------------------------------------------
# ARC102 keys and merges


@pytest.mark.parametrize("text,line", [
    ("1: x\n", 1), ("ok: 1\nnull: x\n", 2), ("[a]: b\n", 1), ("true: x\n", 1), ("1.5: x\n", 1),
    ("? {a: 1}\n: b\n", 1), ("~: x\n", 1), ("a: {2: x}\n", 1), ("a: &n 3\n*n : x\n", 2),
])
def test_non_string_keys(text, line):
    (d,) = errors(text)
    assert d.code == "ARC102" and d.span.line == line
    assert "keys must be strings" in d.message


def test_quoted_numeric_keys_are_fine():
    assert load_yaml_text("'1': x\n\"null\": y\non: z\n").data == {"1": "x", "null": "y", "on": "z"}


def test_all_key_errors_collected_with_duplicates():
    assert codes("1: a\nx: 1\nx: 2\n2: b\n") == ["ARC102", "ARC002", "ARC102"]


@pytest.mark.parametrize("text", ["a: {<<: 1}\n", "a: {<<: [1]}\n", "s: &s [1]\na: {<<: *s}\n"])
def test_bad_merge_values(text):
    assert codes(text) == ["ARC102"]


# ---------------------------------------------------------------------------------------------
# robustness


def _check_error(e: DiagnosticError):
    assert e.diagnostics
    for d in e.diagnostics:
        assert d.span is not None
        assert d.code in {"ARC001", "ARC002", "ARC003", "ARC004", "ARC005", "ARC006", "ARC007", "ARC102"}
        assert "internal error" not in d.message, d


YAMLISH = st.text(alphabet=st.sampled_from(list("ab: -[]{},&*!<>|'\"#?\n\t %@`~.019e+\\")), max_size=60)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.text(), YAMLISH))
def test_random_text_only_raises_diagnostic_error(text):
    try:
        L = load_yaml_text(text)
    except DiagnosticError as e:
        _check_error(e)
    else:
        assert isinstance(L.spans, SpanMap)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_diagnostic_error(raw):
    fd, path = tempfile.mkstemp(suffix=".yaml")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        for load in (lambda: load_yaml_file(path), lambda: load_yaml_text(raw)):
            try:
                load()
            except DiagnosticError as e:
                _check_error(e)
    finally:
        os.unlink(path)


def test_non_text_input():
    with pytest.raises(DiagnosticError):
        load_yaml_text(12)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# the libyaml fast path gives exactly what the full (pure-Python) loader gives


from pathlib import Path  # noqa: E402

from archc.spec import yaml_loader as Y  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ZOO = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "specs" / "lib").glob("*.yaml"))
needs_libyaml = pytest.mark.skipif(Y._CParser is None, reason="PyYAML built without libyaml")


def _strict_equal(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _outcome(load):
    """(data, every value span, every key span) of a load, or its diagnostics."""
    try:
        L = load()
    except DiagnosticError as e:
        return ("error", e.diagnostics)
    s = L.spans
    return ("ok", L.data, [(p, s.value(p)) for p in s._values], [(p, s.key(p)) for p in s._keys])


def _full(text, limits=DEFAULT_LIMITS):
    saved, Y._CParser = Y._CParser, None
    try:
        return _outcome(lambda: load_yaml_text(text, F, limits))
    finally:
        Y._CParser = saved


def assert_same_as_full_loader(text, limits=DEFAULT_LIMITS):
    got, want = _outcome(lambda: load_yaml_text(text, F, limits)), _full(text, limits)
    assert got[0] == want[0], (got, want)
    if got[0] == "error":
        assert got[1] == want[1]
    else:
        assert _strict_equal(got[1], want[1]), (got[1], want[1])
        assert got[2:] == want[2:]


def _fast_or_none(text, limits=DEFAULT_LIMITS):
    try:
        return Y._fast_load(text, limits)
    except Exception:
        return None


@needs_libyaml
@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.name)
def test_zoo_takes_the_fast_path_and_matches_the_full_loader(path):
    text = path.read_text(encoding="utf-8")
    assert _fast_or_none(text) is not None
    assert_same_as_full_loader(text)
    assert_same_as_full_loader(text.rstrip("\n"))  # marks at the end of a text without a line break
    assert_same_as_full_loader(text.replace("\n", "\r\n"))


FAST_CASES = [
    BLOCK, BLOCK.rstrip("\n"), "a: 1", "a: {b: [1, 2]}", "- a\n- b", "- [a, {b: c}]", "a:\n  - 1\n  - x: y",
    "a: |\n  line1\n  line2\n", "a: >-\n  folded\n  text\nb: 1", "a: |+\n  keep\n\n", "a: |2\n   indented\n",
    "a: 'multi\n  line'\nb: \"esc\\tq\\u00e9\\\n  cont\"\n", "a: plain\n  multi\n\n  line\n", "? a\n: b\n",
    "a:\nb: ~\nc: null\nd: ''\n", "x: 1_000\ny: 0x1F\nz: .inf\nw: -.5e3\nv: true\nu: 010\n", "--- a\n...\n", "---\n",
    "[a\n b, c]\n", "{a: [1,\n  2]}", "a: 1\rb: 2", "a: 1\x85b: [x]\u2028c: 3\u2029", "é: 日本\n😀: [ü]\n", "'<<': 1\n",
    "a: <<\n", "a: x # comment\n# more\n", "[" * 64 + "]" * 64, "a: http://x:80/y\n", "[a: 1]", "- - - x\n",
]


@needs_libyaml
@pytest.mark.parametrize("text", FAST_CASES)
def test_fast_path_cases_match_the_full_loader(text):
    assert _fast_or_none(text) is not None, "expected the fast path to take this text"
    assert_same_as_full_loader(text)


SLOW_CASES = [
    "a: &x 1\nb: *x\n", "a: !!str 1\n", "a: {<<: {b: 1}}\n", "a: 1\na: 2\n", "1: x\n", "%YAML 1.1\n---\na: 1\n",
    "a:\n\tb: 1\n", "a: x\ufeffy\n", "a: [b?c]\n", "a: {b: }\n", "a: [:x]\n", "a: |#c\n  x\n", "a: 1\n---\nb: 2\n",
    "[" * 65 + "]" * 65, "a: 0x_\n", "a: [1, 2\n", "? [a]\n: b\n",
]


@needs_libyaml
@pytest.mark.parametrize("text", SLOW_CASES)
def test_fast_path_declines_what_only_the_full_loader_can_judge(text):
    assert _fast_or_none(text) is None
    assert_same_as_full_loader(text)


def test_fast_path_respects_limits():
    assert_same_as_full_loader("[" + ", ".join(["1"] * 100) + "]", Limits(max_nodes=50))
    assert_same_as_full_loader("{a: {b: 1}}", Limits(max_nodes=3))
    assert_same_as_full_loader("[[[[]]]]", Limits(max_depth=3))


MUTATIONS = list("ab: -[]{},#?'\"|>\n") + ["  ", "\n  ", "- ", ": ", "\r\n", "\x85", "\u2028", "é", "&a ", "*a", "!!str ",
                                          "<<: ", "~", "1e3", "0x1F", "true", "|-\n  x\n", "\\"]


@needs_libyaml
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(
    YAMLISH,
    st.tuples(st.sampled_from(ZOO or [Path(__file__)]), st.lists(
        st.tuples(st.floats(0, 1), st.sampled_from(["insert", "delete", "replace"]), st.sampled_from(MUTATIONS)),
        max_size=4), st.booleans()),
))
def test_fast_path_matches_full_loader_on_random_text(case):
    if isinstance(case, str):
        text = case
    else:
        path, edits, strip = case
        chars = list(path.read_text(encoding="utf-8"))
        for where, op, piece in edits:
            i = min(int(where * len(chars)), max(len(chars) - 1, 0))
            if op == "insert":
                chars.insert(i, piece)
            elif chars and op == "delete":
                del chars[i]
            elif chars:
                chars[i] = piece
        text = "".join(chars).rstrip("\n") if strip else "".join(chars)
    assert_same_as_full_loader(text)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)),
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)),
    max_leaves=20), st.sampled_from([None, True, False]), st.sampled_from([None, "'", '"', "|"]), st.booleans())
def test_fast_path_matches_full_loader_on_dumped_documents(doc, flow, style, strip):
    import yaml

    text = yaml.safe_dump(doc, default_flow_style=flow, default_style=style, allow_unicode=True, width=30)
    assert_same_as_full_loader(text.rstrip("\n") if strip else text)


def test_without_libyaml_everything_still_loads(monkeypatch):
    monkeypatch.setattr(Y, "_CParser", None)
    L = load_yaml_text(BLOCK, F)
    assert L.spans.value(("model", "flags", 1)) == Span(F, 7, 14, 7, 15)
    assert codes("a: 1\na: 2\n") == ["ARC002"]


@needs_libyaml
@pytest.mark.timeout(30)  # a hang guard, not a speed test: the speed is measured in benchmarks/refusal_speed.py
def test_deep_nesting_is_declined_by_the_fast_path():
    for text in ("[" * 100_000 + "]" * 100_000, "{a: " * 100_000, "- " * 100_000 + "x\n"):
        assert _fast_or_none(text) is None


# ---------------------------------------------------------------------------------------------
# load_yaml_file's cache


def test_file_cache_hands_out_independent_documents(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("a: {b: [1, 2]}\n", encoding="utf-8")
    first = load_yaml_file(p, display="m.yaml")
    first.data["a"]["b"].append(3)
    first.data["x"] = 1
    second = load_yaml_file(p, display="m.yaml")
    assert second.data == {"a": {"b": [1, 2]}}
    assert second.data is not first.data
    assert second.spans.value(("a", "b", 1)) == Span("m.yaml", 1, 12, 1, 13)
    third = load_yaml_file(p, display="m.yaml")
    assert third.data == second.data and third.data is not second.data


def test_file_cache_sees_same_size_rewrites_and_display_names(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("a: 1\n", encoding="utf-8")
    assert load_yaml_file(p).data == {"a": 1}
    st0 = p.stat()
    p.write_text("a: 2\n", encoding="utf-8")
    os.utime(p, ns=(st0.st_atime_ns, st0.st_mtime_ns))  # same size, same mtime: still re-read
    assert load_yaml_file(p).data == {"a": 2}
    assert load_yaml_file(p, display="shown.yaml").spans.value(("a",)).file == "shown.yaml"
    assert load_yaml_file(p).spans.value(("a",)).file == str(p)
    with pytest.raises(DiagnosticError) as info:
        load_yaml_file(p, limits=Limits(max_bytes=3))  # a cached load under other limits does not leak
    assert [d.code for d in info.value.diagnostics] == ["ARC006"]


def test_file_cache_does_not_cache_errors(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("a: 1\na: 2\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(DiagnosticError) as info:
            load_yaml_file(p)
        assert [d.code for d in info.value.diagnostics] == ["ARC002"]


def test_file_cache_keys_skip_big_files_and_unhashable_limits():
    from archc.spec import yaml_cache as C

    assert C.cache_key(b"a: 1\n", "m.yaml", DEFAULT_LIMITS) == (b"a: 1\n", "m.yaml", DEFAULT_LIMITS)
    assert C.cache_key(b"#" * (C._FILE_CACHE_MAX_BYTES + 1), "m.yaml", DEFAULT_LIMITS) is None

    class Unhashable(Limits):
        __hash__ = None  # type: ignore[assignment]

    assert C.cache_key(b"a: 1\n", "m.yaml", Unhashable()) is None
    assert C.cache_get(None, "m.yaml") is None


def test_file_cache_evicts_the_oldest_entry(tmp_path, monkeypatch):
    from archc.spec import yaml_cache as C

    monkeypatch.setattr(C, "_FILE_CACHE", {})
    monkeypatch.setattr(C, "_FILE_CACHE_MAX_ENTRIES", 2)
    for i in range(3):
        (tmp_path / f"m{i}.yaml").write_text(f"a: {i}\n", encoding="utf-8")
        assert load_yaml_file(tmp_path / f"m{i}.yaml", display=f"m{i}.yaml").data == {"a": i}
    assert [k[1] for k in C._FILE_CACHE] == ["m1.yaml", "m2.yaml"]


def test_yaml_loader_reexports_its_parts():
    from archc.spec import yaml_fast, yaml_full, yaml_spans

    assert Y.Limits is yaml_spans.Limits and Y.SpanMap is yaml_spans.SpanMap and Y.Loaded is yaml_spans.Loaded
    assert Y.DEFAULT_LIMITS is yaml_spans.DEFAULT_LIMITS
    assert Y._fast_load is yaml_fast._fast_load and Y._load_python is yaml_full._load_python
    assert set(Y.__all__) == {"Limits", "DEFAULT_LIMITS", "SpanMap", "Loaded", "load_yaml_text", "load_yaml_file"}
