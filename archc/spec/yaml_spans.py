"""What a YAML load returns: the plain data, a `SpanMap` (a source span for every key and value)
and the text; and the `Limits` every load enforces.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archc.diagnostics import Span


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
