"""The full YAML loader: PyYAML's pure-Python machinery (a ``yaml.SafeLoader`` subclass: reader,
scanner, parser, composer) with every check (depth, alias expansion, duplicate keys, tags, merges)
and every diagnostic; it builds plain data and spans from the composed nodes.
"""
from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.events import MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from archc.diagnostics import Diagnostic, DiagnosticError, Related, Span
from archc.spec.yaml_resolve import (
    _ALLOWED_EXPLICIT_TAGS, _BOOL_RE, _FLOAT_RE, _HINT_SAFE, _INT_RE, _MERGE_RE, _NULL_RE,
    _SCALAR_TAGS, _short_tag, _to_float, _to_int, BOOL, FLOAT, INT, MAP, MERGE, NULL, SEQ, STR,
)
from archc.spec.yaml_spans import Limits, Loaded, SpanMap


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


def _end_of_text_span(file: str, mark) -> Span | None:
    """An error found at the end of the stream (an unclosed bracket or quote) points just after
    the last character of the text, so that the diagnostic shows that line, not an empty one."""
    buf = getattr(mark, "buffer", None)
    if not isinstance(buf, str):
        return None
    text = buf.rstrip("\0")
    body = text.rstrip()
    if not body or mark.index < len(body):
        return None
    line, col = _line_col(text, len(body))
    return Span(file, line, col, line, col + 1)


def _syntax_diagnostic(e: yaml.MarkedYAMLError, file: str) -> Diagnostic:
    problem = e.problem or e.context or "invalid YAML"
    mark = e.problem_mark or e.context_mark
    span = _mark_span(file, mark) if mark is not None else Span(file, 1, 1)
    if mark is not None:
        span = _end_of_text_span(file, mark) or span
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
            shown = f"`{value}`" if len(value) <= 40 else f"`{value[:20]}...{value[-8:]}` ({len(value):,} characters)"
            self.diags.append(Diagnostic(
                "ARC102", f"{shown} cannot be read as `{_short_tag(tag)}`", self.span(node),
                hint="a number has at most 4,300 digits" if tag in (INT, FLOAT) and len(value) > 4300 else None))
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
