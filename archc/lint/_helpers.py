"""Helpers that more than one rule uses: an attention node's (width, heads), and the strings and
`${...}` names inside raw YAML data."""
from __future__ import annotations

from typing import Any, Iterator

from archc.ir.expr import contains_expr, parse
from archc.ir.graph import Node
from archc.lint._context import LintContext


_HAS_HEADS: dict[type, bool] = {}


def heads(ctx: LintContext, n: Node) -> tuple[int, int] | None:
    """(width, heads) of a node with a `heads` attribute and a static last input dim."""
    cls = type(n.attrs)
    has = _HAS_HEADS.get(cls)
    if has is None:  # a field or any class attribute (a property) named `heads`
        has = _HAS_HEADS[cls] = "heads" in (getattr(cls, "model_fields", None) or {}) or any("heads" in vars(c) for c in cls.__mro__)
    if not has:
        return None  # most ops: a dict lookup, not pydantic's slow path for a missing attribute
    h = ctx.attr(n, "heads")
    if not isinstance(h, int) or isinstance(h, bool) or h <= 0 or not n.inputs:
        return None
    shape = ctx.graph.type_of(n.inputs[0]).shape
    if not shape or not isinstance(shape[-1], int):
        return None
    return shape[-1], h


def strings(value: Any) -> Iterator[str]:
    """Every string value (not mapping keys) inside plain YAML data."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def names_read(value: Any) -> set[str]:
    """The names that `${...}` expressions anywhere inside `value` read."""
    out: set[str] = set()
    for s in strings(value):
        if contains_expr(s):
            try:
                out |= parse(s).names
            except Exception:  # a malformed expression is the loader's or elaborator's to report
                continue
    return out
