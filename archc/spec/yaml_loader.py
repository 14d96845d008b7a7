"""Safe YAML loading that keeps a source span for every key and value.

The spec is *data*: only the standard YAML tags are accepted and no Python object is ever
constructed from the document. Plain Python values are built here, so that the start and end
marks of every key and value survive as :class:`~archc.diagnostics.Span` values in a
:class:`SpanMap`.

Two loaders, one behaviour:

* The fast path (when PyYAML has libyaml, ``yaml.__with_libyaml__``) pulls events from libyaml's C
  parser and builds data and spans in one pass. It takes the common document only: no anchors,
  aliases, tags, merge keys or directives, no tab or BOM inside the text, and nothing to report.
* Everything else, and any text the fast path turns down or libyaml rejects, is loaded again by
  the full loader: PyYAML's pure-Python machinery (``yaml.SafeLoader`` subclass: reader, scanner,
  parser, composer) with every check (depth, alias expansion, duplicate keys, tags, merges), so
  diagnostics and error messages are exactly that loader's. The fast path's results are the
  full loader's, spans included (the test suite checks this differentially).

``load_yaml_file`` keeps a small in-process cache of successful loads keyed by the file's bytes.

Every problem is reported as a :class:`~archc.diagnostics.Diagnostic` inside a
:class:`~archc.diagnostics.DiagnosticError`; no other exception escapes ``load_yaml_text`` or
``load_yaml_file`` for any input.

Implicit scalar resolution follows the YAML 1.2 core schema (plus ``_`` digit separators), not
PyYAML's YAML 1.1 default: ``1e-3`` is a float, ``yes``/``no``/``on``/``off`` are strings,
``2020-01-01`` and ``1:30`` are strings, ``010`` is the int 10.

This module must not import torch, rich or typer.
"""
from __future__ import annotations

import marshal
import math
import os
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from archc.diagnostics import Diagnostic, DiagnosticError, Related, Span

__all__ = ["Limits", "DEFAULT_LIMITS", "SpanMap", "Loaded", "load_yaml_text", "load_yaml_file"]


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1_000_000  # oversized file -> ARC006
    max_depth: int = 64  # nesting depth of collections -> ARC005
    max_nodes: int = 200_000  # total nodes composed, counting alias expansions -> ARC004


DEFAULT_LIMITS = Limits()

Path = tuple  # tuple[str | int, ...]


class SpanMap:
    """Spans keyed by path: a tuple of str mapping keys and int sequence indexes from the document root."""

    def __init__(self, file: str, values: dict | None = None, keys: dict | None = None, *, _eof=None):
        self.file = file
        # An entry is a Span, or (start mark, end mark) from libyaml turned into a Span when first
        # asked for (most spans are never looked at). `_eof`: (index, line, col) of the end of a
        # text that does not end with a line break; a mark there is reported as PyYAML does.
        self._values: dict[tuple, Any] = values if values is not None else {}
        self._keys: dict[tuple, Any] = keys if keys is not None else {}
        self._eof = _eof

    def _get(self, table: dict, path: tuple) -> Span | None:
        entry = table.get(path)
        if entry is None or entry.__class__ is Span:
            return entry
        start, end = entry
        eof = self._eof
        if eof is not None and start.index == eof[0]:
            line, col = eof[1], eof[2]
        else:
            line, col = start.line + 1, start.column + 1
        if eof is not None and end.index == eof[0]:
            end_line, end_col = eof[1], eof[2]
        else:
            end_line, end_col = end.line + 1, end.column + 1
        span = table[path] = Span(self.file, line, col, end_line, end_col)
        return span

    def value(self, path: tuple) -> Span | None:
        """Span of the value node at `path` (start..end)."""
        return self._get(self._values, tuple(path))

    def key(self, path: tuple) -> Span | None:
        """Span of the KEY token whose value is at `path` (`path[-1]` is that key)."""
        return self._get(self._keys, tuple(path))

    def nearest(self, path: tuple) -> Span | None:
        """Span of the longest known prefix of `path` (key span for mapping entries, else value
        span); the root, or nothing known, gives line 1 column 1."""
        path = tuple(path)
        for i in range(len(path), 0, -1):
            prefix = path[:i]
            span = self._get(self._keys, prefix) or self._get(self._values, prefix)
            if span is not None:
                return span
        return Span(self.file, 1, 1)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"SpanMap({self.file!r}, {len(self._values)} values, {len(self._keys)} keys)"


@dataclass
class Loaded:
    data: Any  # plain Python: dict (insertion-ordered, str keys), list, str, int, float, bool, None
    spans: SpanMap
    file: str  # display name used in spans
    text: str  # full source text (renderers show lines from it)


# --------------------------------------------------------------------------------------------
# Tags and implicit resolution (YAML 1.2 core schema, with `_` digit separators)

_Y = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, MAP, SEQ, MERGE = (
    _Y + "str", _Y + "int", _Y + "float", _Y + "bool", _Y + "null", _Y + "map", _Y + "seq", _Y + "merge",
)
_ALLOWED_EXPLICIT_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL, MAP, SEQ, "!"})
_SCALAR_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL})

_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT_RE = re.compile(r"^(?:[-+]?[0-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_MERGE_RE = re.compile(r"^<<$")
_HINT_SAFE = "a spec is data; archc never constructs Python objects from YAML"


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_Y):] if tag.startswith(_Y) else tag


class _Abort(Exception):
    """Stop loading now; the diagnostics are already recorded."""


class _AliasNode(Node):
    """Stands in the composed tree where `*anchor` was written (PyYAML would reuse the target)."""

    id = "alias"

    def __init__(self, anchor, target, start_mark, end_mark):
        super().__init__(target.tag, None, start_mark, end_mark)
        self.anchor = anchor
        self.target = target


class _SpanLoader(yaml.SafeLoader):
    """SafeLoader (pure Python) that composes only: depth-guarded, alias nodes kept, tags checked."""

    yaml_implicit_resolvers: dict = {}

    def __init__(self, stream, file: str, limits: Limits, diags: list):
        self._file = file
        self._limits = limits
        self._diags = diags
        self._depth = 0
        self._explicit: set[int] = set()  # ids of nodes carrying an explicit tag
        self._text = stream
        super().__init__(stream)

    def span(self, start, end=None) -> Span:
        return _mark_span(self._file, start, end)

    def _tag_span(self, event) -> Span:
        """The `!tag` token of a node event: its properties start at the tag or at `&anchor`
        (anchor names hold no `!`), and the tag runs to the next blank."""
        start = event.start_mark
        text = self._text
        i = text.find("!", start.index, event.end_mark.index + 1)
        if i < 0:
            return self.span(start, event.end_mark)
        j = i
        while j < len(text) and text[j] not in " \t\r\n\x85\u2028\u2029":
            j += 1
        if _BREAK_RE.search(text, start.index, i):
            line, col = _line_col(text, i)
        else:
            line, col = start.line + 1, start.column + 1 + (i - start.index)
        return Span(self._file, line, col, line, col + (j - i))

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            if event.anchor not in self.anchors:
                self._diags.append(Diagnostic(
                    "ARC001", f"alias `*{event.anchor}` refers to an undefined anchor `&{event.anchor}`",
                    self.span(event.start_mark, event.end_mark),
                    hint=f"define `&{event.anchor}` on a node earlier in the file"))
                raise _Abort
            return _AliasNode(event.anchor, self.anchors[event.anchor], event.start_mark, event.end_mark)

        event = self.peek_event()
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            first = self.anchors[anchor]
            self._diags.append(Diagnostic(
                "ARC001", f"anchor `&{anchor}` is defined twice",
                self.span(event.start_mark, event.end_mark),
                related=(Related("first defined here", self.span(first.start_mark, first.start_mark)),),
                hint="give each anchor a distinct name"))
            raise _Abort

        explicit = False
        if event.tag is not None and event.tag != "!":
            explicit = True
            if event.tag not in _ALLOWED_EXPLICIT_TAGS:
                self._diags.append(Diagnostic(
                    "ARC003",
                    f"tag `{_short_tag(event.tag)}` is not allowed; only the standard tags "
                    "(!!str, !!int, !!float, !!bool, !!null, !!map, !!seq) are",
                    self._tag_span(event), hint=_HINT_SAFE))

        is_collection = isinstance(event, (SequenceStartEvent, MappingStartEvent))
        if is_collection:
            self._depth += 1
            if self._depth > self._limits.max_depth:
                self._diags.append(Diagnostic(
                    "ARC005", f"YAML nesting is deeper than {self._limits.max_depth} levels",
                    self.span(event.start_mark, event.end_mark),
                    hint="flatten the structure; deeply nested collections are not a valid spec"))
                raise _Abort
        if isinstance(event, ScalarEvent):
            node = self.compose_scalar_node(anchor)
        elif isinstance(event, SequenceStartEvent):
            node = self.compose_sequence_node(anchor)
        else:
            node = self.compose_mapping_node(anchor)
        if is_collection:
            self._depth -= 1
        if explicit:
            self._explicit.add(id(node))
        return node


for _tag, _regex, _first in (
    (BOOL, _BOOL_RE, "tTfF"),
    (INT, _INT_RE, "-+0123456789"),
    (FLOAT, _FLOAT_RE, "-+.0123456789"),
    (MERGE, _MERGE_RE, "<"),
    (NULL, _NULL_RE, ["~", "n", "N", ""]),
):
    _SpanLoader.add_implicit_resolver(_tag, _regex, list(_first))


# --------------------------------------------------------------------------------------------
# Helpers


def _mark_span(file: str, start, end=None) -> Span:
    line = start.line + 1 if start is not None else 1
    col = start.column + 1 if start is not None else 1
    if end is None:
        return Span(file, line, col)
    return Span(file, line, col, end.line + 1, end.column + 1)


_BREAK_RE = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")


def _line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of character index `pos`, counting YAML line breaks."""
    line, start = 1, 0
    for m in _BREAK_RE.finditer(text, 0, max(0, pos)):
        line += 1
        start = m.end()
    return line, max(0, pos - start) + 1


_FRIENDLY_HINTS = (
    ("mapping values are not allowed here",
     "check the indentation, or quote a value that contains ': '"),
    ("found character '\\t' that cannot start any token",
     "YAML does not allow tabs for indentation; use spaces"),
    ("found a tab character",
     "YAML does not allow tabs for indentation; use spaces"),
    ("could not find expected ':'", "a key needs a ':' after it"),
    ("found undefined tag handle", "declare the handle with %TAG or use a standard tag"),
    ("but found another document", "a spec file holds exactly one YAML document"),
)


def _syntax_diagnostic(e: yaml.MarkedYAMLError, file: str) -> Diagnostic:
    problem = e.problem or e.context or "invalid YAML"
    mark = e.problem_mark or e.context_mark
    span = _mark_span(file, mark) if mark is not None else Span(file, 1, 1)
    message = problem
    if problem == "expected a single document in the stream":
        message = "expected a single document in the stream"
    if e.context == "expected a single document in the stream":
        message = "the file holds more than one YAML document"
    hints = []
    if e.context and e.context != problem and e.context != "expected a single document in the stream":
        if e.context_mark is not None:
            hints.append(f"{e.context} that started at line {e.context_mark.line + 1}, "
                         f"column {e.context_mark.column + 1}")
        else:
            hints.append(e.context)
    full = f"{e.context or ''} {problem}"
    for needle, hint in _FRIENDLY_HINTS:
        if needle in full:
            hints.append(hint)
            break
    if e.note:
        hints.append(e.note)
    return Diagnostic("ARC001", message, span, hint="; ".join(hints) or None)


def _sort_unique(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    out = []
    for d in diags:
        k = (d.code, d.message, d.span, d.related)
        if k in seen:
            continue
        seen.add(k)
        out.append(d)

    def key(d: Diagnostic):
        s = d.span
        return (s.line, s.col) if s is not None else (0, 0)

    return sorted(out, key=key)


# --------------------------------------------------------------------------------------------
# Construction


class _Builder:
    def __init__(self, file: str, limits: Limits, diags: list, explicit: set):
        self.file = file
        self.limits = limits
        self.diags = diags
        self.explicit = explicit
        self.values: dict[tuple, Span] = {}
        self.keys: dict[tuple, Span] = {}

    def span(self, node) -> Span:
        return _mark_span(self.file, node.start_mark, node.end_mark)

    # -- limits: node count with alias expansion, expanded depth, recursive aliases -------------
    def measure(self, root) -> None:
        memo: dict[int, tuple[int, int]] = {}
        active: set[int] = set()
        count = 0
        max_nodes, max_depth = self.limits.max_nodes, self.limits.max_depth

        def visit(node, depth: int) -> tuple[int, int]:
            nonlocal count
            if isinstance(node, _AliasNode):
                target = node.target
                if id(target) in active:
                    self.diags.append(Diagnostic(
                        "ARC004", f"alias `*{node.anchor}` refers to a node that contains it (a recursive alias)",
                        self.span(node), hint="a recursive alias expands forever; remove it"))
                    raise _Abort
                if id(target) not in memo:  # not expected: targets are composed before their aliases
                    visit(target, depth)
                size, height = memo[id(target)]
                count += size
                if count > max_nodes:
                    self.diags.append(Diagnostic(
                        "ARC004",
                        f"alias `*{node.anchor}` expands the document past {max_nodes:,} nodes",
                        self.span(node),
                        hint="aliases are expanded when the spec is read; this looks like an alias bomb"))
                    raise _Abort
                if depth + height > max_depth:
                    self.diags.append(Diagnostic(
                        "ARC005",
                        f"alias `*{node.anchor}` expands to YAML nesting deeper than {max_depth} levels",
                        self.span(node), hint="flatten the structure"))
                    raise _Abort
                return size, height
            count += 1
            if count > max_nodes:
                self.diags.append(Diagnostic(
                    "ARC004", f"the document has more than {max_nodes:,} YAML nodes",
                    self.span(node), hint="split the spec or raise the node limit"))
                raise _Abort
            if isinstance(node, ScalarNode):
                memo[id(node)] = (1, 0)
                return 1, 0
            active.add(id(node))
            size, height = 1, 0
            if isinstance(node, SequenceNode):
                children = node.value
            else:
                children = [n for pair in node.value for n in pair]
            for child in children:
                s, h = visit(child, depth + 1)
                size += s
                height = max(height, h)
            height += 1
            active.discard(id(node))
            memo[id(node)] = (size, height)
            return size, height

        visit(root, 0)

    # -- construction ---------------------------------------------------------------------------
    def build(self, node, path: tuple, record: bool = True) -> Any:
        if record:
            self.values[path] = self.span(node)
        while isinstance(node, _AliasNode):
            node = node.target
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            self.check_collection_tag(node, SEQ, "sequence")
            return [self.build(item, path + (i,), record) for i, item in enumerate(node.value)]
        self.check_collection_tag(node, MAP, "mapping")
        out: dict[str, Any] = {}
        for key, key_node, value_node in self.entries(node):
            if record:
                self.keys[path + (key,)] = self.span(key_node)
            out[key] = self.build(value_node, path + (key,), record)
        return out

    def check_collection_tag(self, node, expected: str, kind: str) -> None:
        if id(node) in self.explicit and node.tag != expected and node.tag in _ALLOWED_EXPLICIT_TAGS:
            self.diags.append(Diagnostic(
                "ARC102", f"tag `{_short_tag(node.tag)}` cannot be applied to a {kind}",
                _mark_span(self.file, node.start_mark, node.start_mark),
                hint=f"remove the tag or use `{_short_tag(expected)}`"))

    def scalar(self, node: ScalarNode) -> Any:
        tag, value = node.tag, node.value
        explicit = id(node) in self.explicit
        if tag not in _SCALAR_TAGS:
            if tag in (MAP, SEQ):
                self.diags.append(Diagnostic(
                    "ARC102", f"tag `{_short_tag(tag)}` cannot be applied to a scalar",
                    self.span(node), hint="remove the tag"))
            # Merge keys in value position, or unsafe tags (already reported): keep the text.
            return value
        if tag == STR:
            return value
        ok = {
            NULL: _NULL_RE, BOOL: _BOOL_RE, INT: _INT_RE,
        }.get(tag)
        if tag == FLOAT:
            valid = bool(_FLOAT_RE.match(value) or _INT_RE.match(value))
        else:
            valid = bool(ok.match(value))
        if not valid:
            if explicit:
                self.diags.append(Diagnostic(
                    "ARC102", f"`{value}` is not a valid `{_short_tag(tag)}` value",
                    self.span(node), hint="remove the tag, or fix the value"))
            return value
        try:
            if tag == NULL:
                return None
            if tag == BOOL:
                return value.lower() == "true"
            if tag == INT:
                return _to_int(value)
            return _to_float(value)
        except (ValueError, OverflowError):
            self.diags.append(Diagnostic(
                "ARC102", f"`{value}` cannot be read as `{_short_tag(tag)}`", self.span(node)))
            return value

    def entries(self, node: MappingNode) -> list[tuple[str, Node, Node]]:
        """The (key, key node, value node) entries of a mapping, merge keys applied, in order."""
        own: list[tuple[str | None, Node, Node]] = []  # key None: a merge entry
        first_key: dict[str, Node] = {}
        for key_node, value_node in node.value:
            real_key = key_node
            while isinstance(real_key, _AliasNode):
                real_key = real_key.target
            if isinstance(real_key, ScalarNode) and real_key.tag == MERGE:
                if "<<" in first_key:
                    self.duplicate("<<", key_node, first_key["<<"])
                    continue
                first_key["<<"] = key_node
                own.append((None, key_node, value_node))
                continue
            if not isinstance(real_key, ScalarNode) or real_key.tag != STR:
                self.bad_key(key_node, real_key)
                continue
            key = real_key.value
            if key in first_key:
                self.duplicate(key, key_node, first_key[key])
                continue
            first_key[key] = key_node
            own.append((key, key_node, value_node))

        out: list[tuple[str, Node, Node]] = []
        taken: set[str] = set()
        for key, key_node, value_node in own:
            if key is not None:
                out.append((key, key_node, value_node))
                taken.add(key)
                continue
            for source in self.merge_sources(value_node):
                for k, kn, vn in self.entries(source):
                    if k not in taken and k not in first_key:
                        out.append((k, kn, vn))
                        taken.add(k)
        return out

    def merge_sources(self, value_node) -> list[MappingNode]:
        target = value_node
        while isinstance(target, _AliasNode):
            target = target.target
        if isinstance(target, MappingNode):
            return [target]
        sources = []
        if isinstance(target, SequenceNode):
            for item in target.value:
                real = item
                while isinstance(real, _AliasNode):
                    real = real.target
                if isinstance(real, MappingNode):
                    sources.append(real)
                else:
                    self.diags.append(Diagnostic(
                        "ARC102", "a `<<` merge list may only hold mappings", self.span(item),
                        hint="write `<<: *anchor` or `<<: [*a, *b]` where each anchor names a mapping"))
            return sources
        self.diags.append(Diagnostic(
            "ARC102", "the value of a `<<` merge key must be a mapping or a list of mappings",
            self.span(value_node),
            hint="write `<<: *anchor` or `<<: [*a, *b]` where each anchor names a mapping"))
        return []

    def duplicate(self, key: str, key_node: Node, first: Node) -> None:
        self.diags.append(Diagnostic(
            "ARC002", f"duplicate key `{key}` in mapping", self.span(key_node),
            related=(Related("first defined here", self.span(first)),),
            hint="YAML would silently keep only the last value; remove or rename one of them"))

    def bad_key(self, key_node: Node, real_key: Node) -> None:
        if isinstance(real_key, ScalarNode):
            kind = {INT: "an int", FLOAT: "a float", BOOL: "a bool", NULL: "null"}.get(real_key.tag, "not a string")
            shown = real_key.value if real_key.value else "(empty)"
            message = f"mapping keys must be strings; `{shown}` is {kind}"
            hint = f"quote the key: \"{real_key.value}\"" if real_key.tag in (INT, FLOAT, BOOL, NULL) else None
        else:
            kind = "a sequence" if isinstance(real_key, SequenceNode) else "a mapping"
            message = f"mapping keys must be strings; this key is {kind}"
            hint = None
        self.diags.append(Diagnostic("ARC102", message, self.span(key_node), hint=hint))


def _to_int(value: str) -> int:
    v = value.replace("_", "")
    sign = 1
    if v[:1] in "+-":
        sign = -1 if v[0] == "-" else 1
        v = v[1:]
    if v.startswith("0x"):
        return sign * int(v[2:], 16)
    if v.startswith("0o"):
        return sign * int(v[2:], 8)
    if v.startswith("0b"):
        return sign * int(v[2:], 2)
    return sign * int(v, 10)


def _to_float(value: str) -> float:
    v = value.replace("_", "")
    low = v.lower()
    if low in (".inf", "+.inf"):
        return math.inf
    if low == "-.inf":
        return -math.inf
    if low == ".nan":
        return math.nan
    return float(v)


# --------------------------------------------------------------------------------------------
# Fast path: libyaml's event parser, plain data built in one pass


try:  # libyaml is optional; without it every document takes the pure-Python path
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _CParser = None

_StreamEnd, _DocStart, _DocEnd = yaml.StreamEndEvent, yaml.DocumentStartEvent, yaml.DocumentEndEvent
_Scalar, _SeqStart, _MapStart = ScalarEvent, SequenceStartEvent, MappingStartEvent
_SeqEnd, _MapEnd = yaml.SequenceEndEvent, yaml.MappingEndEvent
_BREAKS = "\n\r\x85\u2028\u2029"
_BLOCK_HEADER_END = " \r\n\x85\u2028\u2029"


class _Slow(Exception):
    """The fast path cannot vouch for this document; load it with the pure-Python loader."""


_NEED_KEY = object()  # the pending key of an open mapping while its next key is awaited


_PLAIN_CACHE: dict[str, Any] = {}


def _plain(value: str) -> Any:
    """The value of an untagged plain scalar, resolved exactly as `_SpanLoader` resolves it."""
    try:
        return _PLAIN_CACHE[value]
    except KeyError:
        pass
    tag = STR
    for candidate, regexp in _SpanLoader.yaml_implicit_resolvers.get(value[:1], ()):
        if regexp.match(value):
            tag = candidate
            break
    if tag == STR or tag == MERGE:  # a `<<` value is kept as text, as `_Builder.scalar` does
        out: Any = value
    elif tag == NULL:
        out = None
    elif tag == BOOL:
        out = value.lower() == "true"
    else:
        try:
            out = _to_int(value) if tag == INT else _to_float(value)
        except (ValueError, OverflowError):
            raise _Slow from None  # ARC102, reported by the full loader
    if len(_PLAIN_CACHE) > 4096:
        _PLAIN_CACHE.clear()
    _PLAIN_CACHE[value] = out
    return out


def _fast_load(text: str, limits: Limits) -> tuple[Any, dict, dict]:
    """Build (data, value spans, key spans) from libyaml's events, in one pass.

    This handles the common document only: no anchors, aliases, tags, merge keys or directives,
    no tab or BOM in the text, and nothing to report. Anything else raises _Slow (or whatever libyaml raises) and the caller
    loads the text again with the pure-Python loader, so diagnostics and every corner of the
    behaviour are exactly that loader's. Spans are kept as libyaml marks (see `SpanMap`); libyaml's
    marks equal PyYAML's except at the end of a text without a final line break (fixed up by
    `SpanMap`) and for the constructs that raise _Slow below. libyaml pulls events one at a time
    and keeps its own stacks on the heap, so deep nesting stops here at `max_depth` (-> _Slow)
    without recursing in C.
    """
    if "\t" in text or "\ufeff" in text:
        # where libyaml and PyYAML disagree most: PyYAML rejects some tabs that libyaml takes,
        # and does not count a BOM in columns
        raise _Slow
    parser = _CParser(text)
    try:
        get = parser.get_event
        get()  # StreamStartEvent
        ev = get()
        if ev.__class__ is _StreamEnd:
            return None, {}, {}
        if ev.__class__ is not _DocStart or ev.version is not None or ev.tags:
            raise _Slow
        max_nodes, max_depth = limits.max_nodes, limits.max_depth
        values: dict[tuple, Any] = {}
        keys: dict[tuple, Any] = {}
        stack: list = []  # saved (container, is_map, path, key, start mark, flow) of open parents
        root: Any = None
        cur: Any = None  # the open collection (None: at the root)
        is_map = False
        path: tuple = ()
        key: Any = _NEED_KEY  # mapping: the pending key
        flow = 0  # open flow collections
        count = 0
        while True:
            ev = get()
            cls = ev.__class__
            if cls is _Scalar:
                if ev.anchor is not None or ev.tag is not None:
                    raise _Slow
                count += 1
                if count > max_nodes:
                    raise _Slow
                value = ev.value
                if ev.implicit[0]:  # plain
                    if flow and ("?" in value or value[:1] == ":" or not value):
                        raise _Slow  # PyYAML splits or rejects these; empty marks differ
                    obj = _plain(value)
                else:
                    obj = value
                    style = ev.style
                    if style == "|" or style == ">":
                        i = ev.start_mark.index + 1
                        while i < len(text) and text[i] in "+-0123456789":
                            i += 1
                        if i < len(text) and text[i] not in _BLOCK_HEADER_END:
                            raise _Slow  # e.g. `|#`: libyaml takes it, PyYAML does not
                marks = (ev.start_mark, ev.end_mark)
                if is_map:
                    if key is _NEED_KEY:
                        if obj.__class__ is not str or obj in cur or (value == "<<" and ev.implicit[0]):
                            raise _Slow  # ARC102 key, ARC002 duplicate, or a merge key
                        key = obj
                        keys[path + (key,)] = marks
                        continue
                    values[path + (key,)] = marks
                    cur[key] = obj
                    key = _NEED_KEY
                elif cur is not None:
                    values[path + (len(cur),)] = marks
                    cur.append(obj)
                else:
                    values[()] = marks
                    root = obj
            elif cls is _MapStart or cls is _SeqStart:
                if ev.anchor is not None or ev.tag is not None:
                    raise _Slow
                count += 1
                new: Any = {} if cls is _MapStart else []
                if is_map:
                    if key is _NEED_KEY:
                        raise _Slow  # a collection as a key: ARC102
                    child = path + (key,)
                    cur[key] = new
                elif cur is not None:
                    child = path + (len(cur),)
                    cur.append(new)
                else:
                    child = ()
                    root = new
                values[child] = None  # placeholder: keeps the parent-first order of the spans
                stack.append((cur, is_map, path, key, ev.start_mark, flow))
                if len(stack) > max_depth or count > max_nodes:
                    raise _Slow
                if ev.flow_style:
                    flow += 1
                cur, is_map, path, key = new, cls is _MapStart, child, _NEED_KEY
            elif cls is _MapEnd or cls is _SeqEnd:
                start = stack[-1][4]
                values[path] = (start, ev.end_mark)
                cur, is_map, path, key, _, flow = stack.pop()
                if is_map:
                    key = _NEED_KEY
            elif cls is _DocEnd:
                break
            else:  # AliasEvent, or anything unexpected
                raise _Slow
        if get().__class__ is not _StreamEnd:
            raise _Slow  # more than one document
        return root, values, keys
    finally:
        parser.dispose()


def _eof_mark(text: str) -> tuple[int, int, int] | None:
    """(index, line, col) of the end of `text` when it does not end with a line break: libyaml
    reports marks there on a new line at column 0, PyYAML at the end of the last line."""
    if not text or text[-1] in _BREAKS:
        return None
    line, col = _line_col(text, len(text))
    return len(text), line, col


# --------------------------------------------------------------------------------------------
# Entry points


def load_yaml_text(text: str, file: str = "<string>", limits: Limits = DEFAULT_LIMITS) -> Loaded:
    """Parse one YAML document from `text`. Raises DiagnosticError (ARC001-ARC007, ARC102)."""
    if isinstance(text, (bytes, bytearray)):
        text = _decode(bytes(text), file)
    if not isinstance(text, str):
        raise DiagnosticError([Diagnostic(
            "ARC007", f"expected YAML text, got {type(text).__name__}", Span(file, 1, 1))])
    if text.startswith("\ufeff"):
        text = text[1:]
    size = len(text) if len(text) * 4 <= limits.max_bytes else len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise DiagnosticError([Diagnostic(
            "ARC006", f"the file is {size:,} bytes; the limit is {limits.max_bytes:,} bytes",
            Span(file, 1, 1), hint="a spec should be small; split it with imports")])
    if _CParser is not None:
        try:
            data, values, keys = _fast_load(text, limits)
        except Exception:  # _Slow, any libyaml error, anything at all: the full loader decides
            pass
        else:
            return Loaded(data=data, spans=SpanMap(file, values, keys, _eof=_eof_mark(text)), file=file,
                          text=text)
    return _load_python(text, file, limits)


def _load_python(text: str, file: str, limits: Limits) -> Loaded:
    """The full loader: PyYAML's pure-Python scanner/parser, every check, every diagnostic."""
    diags: list[Diagnostic] = []
    try:
        loader = None
        try:
            loader = _SpanLoader(text, file, limits, diags)
            root = loader.get_single_node()
            explicit = loader._explicit
        finally:
            if loader is not None:
                loader.dispose()
        builder = _Builder(file, limits, diags, explicit)
        if root is None:
            data = None
        else:
            builder.measure(root)
            data = builder.build(root, ())
    except _Abort:
        pass
    except yaml.MarkedYAMLError as e:
        diags.append(_syntax_diagnostic(e, file))
    except yaml.reader.ReaderError as e:
        line, col = _line_col(text, e.position)
        ch = e.character
        code = f"U+{ch:04X}" if isinstance(ch, int) else repr(ch)
        diags.append(Diagnostic(
            "ARC001", f"unacceptable character {code}: {e.reason}", Span(file, line, col, line, col + 1),
            hint="YAML text may not contain control characters other than tab and line breaks"))
    except RecursionError:
        diags.append(Diagnostic(
            "ARC005", "YAML nesting is too deep to read", Span(file, 1, 1),
            hint=f"the nesting limit is {limits.max_depth} levels"))
    except yaml.YAMLError as e:
        diags.append(Diagnostic("ARC001", f"invalid YAML: {e}", Span(file, 1, 1)))
    except Exception as e:  # pragma: no cover - a bug here must still surface as a diagnostic
        diags.append(Diagnostic(
            "ARC001", f"internal error reading YAML ({type(e).__name__}: {e})", Span(file, 1, 1),
            hint="this is a bug in archc; please report it with the file"))
    if diags:
        raise DiagnosticError(_sort_unique(diags))
    return Loaded(data=data, spans=SpanMap(file, builder.values, builder.keys), file=file, text=text)


def _decode(raw: bytes, file: str) -> str:
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        start = e.start + bom
        prefix = raw[:start]
        line = prefix.count(b"\n") + 1
        last = prefix[prefix.rfind(b"\n") + 1:]
        if line == 1:
            last = last[bom:]
        col = len(last.decode("utf-8", "replace")) + 1
        raise DiagnosticError([Diagnostic(
            "ARC007",
            f"the file is not valid UTF-8 (byte 0x{raw[start]:02x} at offset {start})",
            Span(file, line, col, line, col + 1),
            hint="save the spec as UTF-8 text")]) from None


def load_yaml_file(path: str | os.PathLike, display: str | None = None,
                   limits: Limits = DEFAULT_LIMITS) -> Loaded:
    """Read and parse a spec file. `display` is the name used in spans (defaults to `path`)."""
    try:
        file = display if display is not None else os.fspath(path)
    except TypeError:
        file = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(limits.max_bytes + 1)
    except (OSError, ValueError, TypeError) as e:
        reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise DiagnosticError([Diagnostic(
            "ARC007", f"cannot read `{file}`: {reason}", Span(file, 1, 1),
            hint="check the path and the file's permissions")]) from None
    if len(raw) > limits.max_bytes:
        try:
            size = os.stat(path).st_size
        except (OSError, ValueError, TypeError):
            size = 0
        shown = f"{size:,} bytes" if size > limits.max_bytes else f"more than {limits.max_bytes:,} bytes"
        raise DiagnosticError([Diagnostic(
            "ARC006", f"the file is {shown}; the limit is {limits.max_bytes:,} bytes",
            Span(file, 1, 1), hint="a spec should be small; split it with imports")])
    try:
        key = (raw, file, limits)
        hit = _FILE_CACHE.get(key) if len(raw) <= _FILE_CACHE_MAX_BYTES else None
    except TypeError:  # unhashable limits: no caching
        key, hit = None, None
    if hit is not None:
        blob, spans, text = hit
        return Loaded(data=marshal.loads(blob), spans=spans, file=file, text=text)
    text = _decode(raw, file)
    loaded = load_yaml_text(text, file, limits)
    if key is not None and len(raw) <= _FILE_CACHE_MAX_BYTES:
        try:
            blob = marshal.dumps(loaded.data)
        except (ValueError, RecursionError):  # too deep for marshal (only with raised limits)
            return loaded
        if len(_FILE_CACHE) >= _FILE_CACHE_MAX_ENTRIES:
            del _FILE_CACHE[next(iter(_FILE_CACHE))]
        _FILE_CACHE[key] = (blob, loaded.spans, loaded.text)
    return loaded


# Successful loads by load_yaml_file, keyed by the file's bytes (not its mtime: same-size rewrites
# within one filesystem timestamp tick must not be served stale), the display name and the
# limits. A hit re-reads the file (cheap) but not the YAML (dear): linting specs that import the
# same library reads that library once. Each caller gets its own copy of `data` (rebuilt from
# marshal), so a caller that changes the document cannot change what later callers see; spans
# and text are immutable and shared.
_FILE_CACHE: dict[tuple, tuple[bytes, SpanMap, str]] = {}
_FILE_CACHE_MAX_ENTRIES = 128
_FILE_CACHE_MAX_BYTES = 64 * 1024
