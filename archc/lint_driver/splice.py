"""Applying a lint fix to a spec's text without disturbing anything else in it.

A whole-file round trip through a YAML library rewrites layout it was never asked to touch (it drops
the aligned padding of `- conv1:   {op: conv2d, ...}`, which 47 of the zoo's 50 files use). So an
edit is made on the smallest node that holds it: the file is composed (every node with its start
and end, by libyaml, the parser whose spans the diagnostics carry), the edit's mapping is found by
where its node's id is written, and only that node is read, edited and re-emitted by ruamel.yaml's
round trip (a scalar when a value is replaced, the mapping when a key is added or
removed, keeping its flow or block style and its comments) and spliced into the text at its source
span. Every byte outside that span stays as it was. Each result is re-read and compared with the
data the edit was meant to produce; an edit that does not compare is refused, never written.

ruamel.yaml is imported here only, and this module only under `archc lint --fix` (lint's start-up
does not pay for it).
"""
from __future__ import annotations

import copy
import io
import re
from dataclasses import dataclass
from typing import Any


class SpliceError(Exception):
    """An edit that cannot be made safely here (the reason is the message)."""


@dataclass(frozen=True)
class Target:
    """Where an edit goes: the node body whose id (or, for a `seq:` item, whose mapping) starts at
    `line`:`col` (1-based, as in a diagnostic's span)."""

    line: int
    col: int


def apply(text: str, target: Target, key: str, value: Any = None, remove: bool = False) -> tuple[str, bool]:
    """`text` with the edit made: (new text, changed). `changed` is False when the mapping already
    says so (the key has that value, or a removed key is absent). Raises SpliceError."""
    from yaml.nodes import MappingNode, ScalarNode

    root = _compose(text)
    found = locate(root, target)
    if found is None:
        raise SpliceError(f"no node body at line {target.line}, column {target.col}")
    path, node = found
    offset = _Offsets(text)
    current = next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == key), None)
    if current is not None and isinstance(current, ScalarNode) and "${" in current.value:
        raise SpliceError(f"`{key}` is an expression, `{current.value}`")
    data = _safe_load(text)
    body = _at(data, path)
    if not isinstance(body, dict):
        raise SpliceError("the node body is not a mapping")
    if remove:
        if key not in body:
            return text, False
    elif key in body and type(body[key]) is type(value) and body[key] == value:
        return text, False
    if not remove and isinstance(current, ScalarNode) and not isinstance(value, (dict, list)):
        start, end = offset(current.start_mark), offset(current.end_mark)
        new = text[:start] + _emit_scalar(value) + text[end:]
    else:
        if any(isinstance(k, MappingNode) for k, _ in node.value):
            raise SpliceError("the mapping has complex keys")
        new = _splice_mapping(text, offset, node, key, value, remove)
    expected = copy.deepcopy(data)
    holder = _at(expected, path)
    if remove:
        del holder[key]
    else:
        holder[key] = value
    if _safe_load(new) != expected:
        raise SpliceError("the edited text does not read back as the intended data")
    return new, True


def locate(root: Any, target: Target) -> tuple[tuple, Any] | None:
    """(data path, mapping node) of the node body at `target`: the mapping value of the key written
    there (`- conv: {...}`), or the mapping that starts there (a `seq:` item `- {op: ...}`)."""
    from yaml.nodes import MappingNode, SequenceNode

    line, col = target.line - 1, target.col - 1
    stack = [((), root)]
    seen: set[int] = set()
    while stack:
        path, node = stack.pop()
        if id(node) in seen:   # an alias: the same node again
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for k, v in node.value:
                if k.start_mark.line == line and k.start_mark.column == col and isinstance(v, MappingNode):
                    return path + (k.value,), v
            if node.start_mark.line == line and node.start_mark.column == col:
                return path, node
            stack.extend((path + (k.value,), v) for k, v in reversed(node.value))
        elif isinstance(node, SequenceNode):
            stack.extend((path + (i,), v) for i, v in reversed(list(enumerate(node.value))))
    return None


# ------------------------------------------------------------------------------------ helpers
def _yaml(typ: str = "rt") -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ=typ, pure=True)
    y.width = 1 << 16              # never wrap a re-emitted line
    y.preserve_quotes = True
    return y


def _compose(text: str) -> Any:
    """The file's node tree, with start and end marks (libyaml's composer: fast, and the spans of
    the diagnostics come from the same parser)."""
    import yaml

    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise SpliceError(f"cannot read the YAML: {e}") from None
    if root is None:
        raise SpliceError("the file is empty")
    return root


class _Offsets:
    """A mark's (line, column) as an index into the text (what libyaml counts as line breaks)."""

    def __init__(self, text: str):
        import re

        self.starts = [0] + [m.end() for m in re.finditer(r"\r\n|[\r\n\x85\u2028\u2029]", text)]
        self.size = len(text)

    def __call__(self, mark: Any) -> int:
        if mark.line >= len(self.starts):
            return self.size
        return min(self.starts[mark.line] + mark.column, self.size)


def _safe_load(text: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as e:
        raise SpliceError(f"cannot read the YAML: {e}") from None


def _at(data: Any, path: tuple) -> Any:
    for seg in path:
        data = data[seg]
    return data


def _emit(obj: Any, indent: tuple[int, int, int] | None = None) -> str:
    y = _yaml()
    if indent is not None:
        y.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    buf = io.StringIO()
    y.dump(obj, buf)
    out = buf.getvalue()
    if out.endswith("\n...\n"):
        out = out[: -len("\n...\n")]
    return out.rstrip("\n")


def _emit_scalar(value: Any) -> str:
    out = _emit(value)
    if "\n" in out:
        raise SpliceError(f"{value!r} does not fit on one line")
    return out


def _content_end(node: Any, offset: _Offsets) -> int:
    """Where the text of `node` ends: a scalar's or a flow collection's end; a block collection's
    last item's end (so the comments and blank lines after it stay where they are)."""
    from yaml.nodes import MappingNode, ScalarNode

    if isinstance(node, ScalarNode) or node.flow_style or not node.value:
        return offset(node.end_mark)
    last = node.value[-1]
    return _content_end(last[1] if isinstance(node, MappingNode) else last, offset)


def _splice_mapping(text: str, offset: _Offsets, node: Any, key: str, value: Any, remove: bool) -> str:
    """Re-emit the mapping `node` with the edit made (ruamel's round trip of that node only: its
    style, order and comments) and put it where the mapping was."""
    start, end = offset(node.start_mark), _content_end(node, offset)
    col = node.start_mark.column
    block = not node.flow_style
    if block:  # a comment after the last value stays on that value's line: take it along
        m = re.compile(r"[ \t]*(#[^\r\n]*)?").match(text, end)
        end = m.end()
    piece = text[start:end]
    if block:  # the mapping's lines, shifted left to column 0 for ruamel (and back afterwards)
        lines = piece.split("\n")
        for i in range(1, len(lines)):
            if lines[i][:col].strip():
                raise SpliceError("a line of the mapping is indented less than its first key")
            lines[i] = lines[i][col:]
        piece = "\n".join(lines)
    y = _yaml()
    try:
        m = y.load(piece)
    except Exception as e:  # noqa: BLE001 - any failure to read it back means: do not touch it
        raise SpliceError(f"cannot re-read the mapping: {e}") from None
    if not hasattr(m, "fa"):
        raise SpliceError("the mapping did not read back as a mapping")
    if remove:
        del m[key]
        if not m:
            raise SpliceError("removing the key would leave the mapping empty")
    else:
        m[key] = value
    out = _emit(m, _guess_indent(piece) if block and "- " in piece else None)
    if block:
        out = "\n".join(line if i == 0 or not line else " " * col + line for i, line in enumerate(out.split("\n")))
    elif "\n" in out and "\n" not in piece:
        raise SpliceError("the mapping would not stay on one line")
    return text[:start] + out + text[end:]


def _guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indentation of the file's block sequences, as ruamel's indent()
    takes it: from the first `key:` line followed by a `- ` item."""
    import re

    m = re.search(r"^( *)[^\s#-][^\n]*:[ \t]*(?:#[^\n]*)?\n( *)- ", text, re.M)
    if m is None:
        return 2, 2, 0
    off = max(0, len(m.group(2)) - len(m.group(1)))
    return 2, off + 2, off
