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

The entry points are here; each part is a module of its own: `yaml_spans` (`Limits`, `SpanMap`,
`Loaded`), `yaml_resolve` (tags and implicit resolution), `yaml_fast` (the libyaml path),
`yaml_full` (the pure-Python loader) and `yaml_cache` (the file cache).

Every problem is reported as a :class:`~archc.diagnostics.Diagnostic` inside a
:class:`~archc.diagnostics.DiagnosticError`; no other exception escapes ``load_yaml_text`` or
``load_yaml_file`` for any input.

Implicit scalar resolution follows the YAML 1.2 core schema (plus ``_`` digit separators), not
PyYAML's YAML 1.1 default: ``1e-3`` is a float, ``yes``/``no``/``on``/``off`` are strings,
``2020-01-01`` and ``1:30`` are strings, ``010`` is the int 10.

This module must not import torch, rich or typer.
"""
from __future__ import annotations

import os
import stat

from archc.diagnostics import Diagnostic, DiagnosticError, Span
from archc.spec.yaml_cache import cache_get, cache_key, cache_put
from archc.spec.yaml_fast import _CParser, _eof_mark, _fast_load  # noqa: F401  (_fast_load: tests)
from archc.spec.yaml_full import _load_python
from archc.spec.yaml_spans import DEFAULT_LIMITS, Limits, Loaded, SpanMap

__all__ = ["Limits", "DEFAULT_LIMITS", "SpanMap", "Loaded", "load_yaml_text", "load_yaml_file"]


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
        # O_NONBLOCK: a FIFO put where a file was expected must not hang the loader; anything
        # that is not a regular file is refused before a byte is read
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise DiagnosticError([Diagnostic(
                    "ARC007", f"cannot read `{file}`: not a regular file", Span(file, 1, 1),
                    hint="a spec is a regular .yaml file")])
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
    key = cache_key(raw, file, limits)
    hit = cache_get(key, file)
    if hit is not None:
        return hit
    loaded = load_yaml_text(_decode(raw, file), file, limits)
    cache_put(key, loaded)
    return loaded
