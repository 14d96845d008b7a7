"""Render diagnostics as text, the way compilers do (rustc style).

    error[ARC201]: shape mismatch in `cat4`: ...
      --> specs/unet.yaml:40:7
       |
    40 |   - cat4: {op: concat, from: [up4, enc3]}
       |     ^^^^
       = hint: the spec requires H % 16 == 0

Plain text by default; `color=True` adds ANSI escapes. No rich dependency, no torch.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from archc.diagnostics import Diagnostic, Span

__all__ = ["render_diagnostic", "render_diagnostics", "TAB_WIDTH", "MAX_LINE"]

TAB_WIDTH = 4
MAX_LINE = 200  # longer source lines are trimmed around the caret
_CONTEXT_BEFORE = 60  # characters kept before the caret when trimming

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_SEVERITY_COLOR = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "info": "\x1b[1;34m", "note": "\x1b[1;34m"}
_GUTTER = "\x1b[1;34m"


class _Style:
    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color and text else text


@functools.lru_cache(maxsize=32)
def _lines(text: str) -> tuple[str, ...]:
    return tuple(text.splitlines())


def _expand(s: str) -> str:
    """Expand tabs to TAB_WIDTH stops (same rule for source text and caret positions)."""
    if "\t" not in s:
        return s
    out = []
    width = 0
    for ch in s:
        if ch == "\t":
            pad = TAB_WIDTH - width % TAB_WIDTH
            out.append(" " * pad)
            width += pad
        else:
            out.append(ch)
            width += 1
    return "".join(out)


def _caret_range(line: str, span: Span) -> tuple[int, int]:
    """Character indexes [start, end) in `line` that the caret run covers (end > start)."""
    start = max(0, span.col - 1)
    if span.end_line == span.line and span.end_col is not None and span.end_col > span.col:
        end = span.end_col - 1
    else:
        end = start
        while end < len(line) and not line[end].isspace():
            end += 1
    end = min(end, len(line))
    if end <= start:
        end = start + 1
    return start, end


def _excerpt(line: str, span: Span) -> tuple[str, int, int]:
    """The displayed source line and the caret's display offset and length."""
    start, end = _caret_range(line, span)
    padded = line + " " * max(0, start - len(line))
    shown = _expand(padded)
    c0 = len(_expand(padded[:start]))
    c1 = len(_expand(padded[:end])) if end <= len(padded) else c0 + (end - start)
    c1 = max(c1, c0 + 1)
    shown = shown.rstrip()
    if len(shown) > MAX_LINE:
        w0 = max(0, c0 - _CONTEXT_BEFORE)
        w1 = min(len(shown), w0 + MAX_LINE)
        w0 = max(0, w1 - MAX_LINE)
        prefix = "…" if w0 > 0 else ""
        suffix = "…" if w1 < len(shown) else ""
        c1 = min(c1, max(w1, c0 + 1))
        shown = prefix + shown[w0:w1] + suffix
        shift = len(prefix) - w0
        c0, c1 = c0 + shift, c1 + shift
    return shown, c0, c1 - c0


def _source_line(span: Span, sources: Mapping[str, str]) -> str | None:
    text = sources.get(span.file) if sources is not None else None
    if text is None:
        return None
    lines = _lines(text)
    if 1 <= span.line <= len(lines):
        return lines[span.line - 1]
    if span.line == len(lines) + 1:  # a position at the very end of the file
        return ""
    return None


def _location_block(span: Span, sources: Mapping[str, str], width: int, caret_color: str,
                    st: _Style) -> list[str]:
    pad = " " * width
    out = [f"{pad}{st('-->', _GUTTER)} {span}"]
    src = _source_line(span, sources)
    if src is None:
        return out
    shown, offset, length = _excerpt(src, span)
    bar = st("|", _GUTTER)
    out.append(f"{pad} {bar}")
    num = st(f"{span.line:>{width}}", _GUTTER)
    out.append(f"{num} {bar} {shown}" if shown else f"{num} {bar}")
    out.append(f"{pad} {bar} {' ' * offset}{st('^' * length, caret_color)}")
    return out


def render_diagnostic(d: Diagnostic, sources: Mapping[str, str], color: bool = False) -> str:
    """One diagnostic: header, primary location with excerpt, related notes, hint."""
    st = _Style(color)
    sev_color = _SEVERITY_COLOR.get(d.severity, _SEVERITY_COLOR["error"])
    spans = [d.span] + [r.span for r in d.related]
    width = max([len(str(s.line)) for s in spans if s is not None] or [1])
    pad = " " * width
    bar = st("|", _GUTTER)

    label = st(f"{d.severity}[{d.code}]", sev_color)
    lines = [f"{label}{st(': ' + d.message, _BOLD)}"]
    has_excerpt = False
    if d.span is not None:
        block = _location_block(d.span, sources, width, sev_color, st)
        has_excerpt = len(block) > 1
        lines += block
    for rel in d.related:
        if rel.span is None:
            lines.append(f"{pad} {st('=', _GUTTER)} {st('note', _BOLD)}: {rel.message}")
            continue
        if has_excerpt:
            lines.append(f"{pad} {bar}")
        lines.append(f"{st('note', _SEVERITY_COLOR['note'])}{st(': ' + rel.message, _BOLD)}")
        block = _location_block(rel.span, sources, width, _SEVERITY_COLOR["note"], st)
        has_excerpt = len(block) > 1
        lines += block
    if d.hint:
        indent = pad + "   " + " " * len("hint: ")
        hint = d.hint.replace("\n", "\n" + indent)
        lines.append(f"{pad} {st('=', _GUTTER)} {st('hint', _BOLD)}: {hint}")
    return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(ds: Iterable[Diagnostic]) -> str:
    ds = list(ds)
    errors = sum(1 for d in ds if d.severity == "error")
    warnings = sum(1 for d in ds if d.severity == "warning")
    infos = sum(1 for d in ds if d.severity == "info")
    parts = [_plural(errors, "error"), _plural(warnings, "warning")]
    if infos:
        parts.append(f"{infos} info")
    return ", ".join(parts)


def render_diagnostics(ds: Iterable[Diagnostic], sources: Mapping[str, str], color: bool = False) -> str:
    """Every diagnostic (blank line between them), then a summary line like `2 errors, 1 warning`."""
    ds = list(ds)
    blocks = [render_diagnostic(d, sources, color) for d in ds]
    summary = summary_line(ds)
    if color:
        errors = any(d.severity == "error" for d in ds)
        warnings = any(d.severity == "warning" for d in ds)
        code = _SEVERITY_COLOR["error"] if errors else _SEVERITY_COLOR["warning"] if warnings else _BOLD
        summary = f"{code}{summary}{_RESET}"
    return "\n\n".join(blocks + [summary])
