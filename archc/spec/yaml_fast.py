"""The fast YAML loader: libyaml's C event parser (when PyYAML has it), plain data and spans built in
one pass. It takes the common document only (no anchors, aliases, tags, merge keys or directives,
no tab or BOM inside the text, nothing to report) and raises for anything else, which the full
loader then reads; its results are the full loader's, spans included.
"""
from __future__ import annotations

from typing import Any

import yaml
from yaml.events import MappingStartEvent, ScalarEvent, SequenceStartEvent

from archc.spec.yaml_full import _line_col, _SpanLoader
from archc.spec.yaml_resolve import _to_float, _to_int, BOOL, INT, MERGE, NULL, STR
from archc.spec.yaml_spans import Limits


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
