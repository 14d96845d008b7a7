"""A parsed spec string (`Template`: literal text and `${...}` parts), `parse`, `contains_expr`
and the recursive `evaluate` over lists and mappings.
"""
from __future__ import annotations

import functools
from typing import Callable, Mapping

from archc.ir.expr.evaluation import _run
from archc.ir.expr.limits import _fail, MAX_LENGTH
from archc.ir.expr.syntax import _collect, _compile_one, _Expr, _find_close


class Template:
    """A parsed spec string: literal text and `${...}` expressions."""

    __slots__ = ("value", "parts", "names", "calls", "is_single")

    def __init__(self, value: str, parts: tuple[str | _Expr, ...]):
        self.value = value
        self.parts = parts
        names: set[str] = set()
        calls: set[str] = set()
        for p in parts:
            if isinstance(p, _Expr):
                n, c = _collect(p.tree)
                names |= n
                calls |= c
        self.names: frozenset[str] = frozenset(names)
        self.calls: frozenset[str] = frozenset(calls)
        self.is_single: bool = (
            len(parts) == 1 and isinstance(parts[0], _Expr) and value.startswith("${") and value.endswith("}")
        )

    def __repr__(self) -> str:
        return f"Template({self.value!r})"

    @property
    def has_expr(self) -> bool:
        return any(isinstance(p, _Expr) for p in self.parts)

    def evaluate(self, env: Mapping[str, object], functions: Mapping[str, Callable] | None = None) -> object:
        """Evaluate: the typed value if `is_single`, else the interpolated str."""
        if self.is_single:
            return _run(self.parts[0], env, functions)  # type: ignore[arg-type]
        out: list[str] = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
                continue
            v = _run(p, env, functions)
            try:
                text = str(v)
            except Exception as e:  # e.g. an int past Python's str-digits limit
                raise _fail(f"cannot convert the value to text: {e}", offset=p.start) from None
            if len(text) > MAX_LENGTH:
                raise _fail(
                    f"interpolated value too large: {len(text)} characters (the limit is {MAX_LENGTH})",
                    offset=p.start,
                )
            out.append(text)
        return "".join(out)


def contains_expr(value: object) -> bool:
    """True for a str containing an unescaped `${`."""
    if not isinstance(value, str):
        return False
    i = 0
    while True:
        k = value.find("$", i)
        if k < 0:
            return False
        if value.startswith("$${", k):
            i = k + 3
        elif value.startswith("${", k):
            return True
        else:
            i = k + 1


@functools.lru_cache(maxsize=4096)
def parse(value: str) -> Template:
    """Parse a spec string into a `Template`.  Raises `ExprError` (ARC107)."""
    if not isinstance(value, str):
        raise TypeError(f"parse() expects a str, got {type(value).__name__}")
    parts: list[str | _Expr] = []
    buf: list[str] = []
    i = 0
    n = len(value)
    while i < n:
        k = value.find("$", i)
        if k < 0:
            buf.append(value[i:])
            break
        buf.append(value[i:k])
        if value.startswith("$${", k):
            buf.append("${")
            i = k + 3
        elif value.startswith("${", k):
            body = k + 2
            close = _find_close(value, body)
            if buf:
                text = "".join(buf)
                if text:
                    parts.append(text)
                buf = []
            parts.append(_compile_one(value[body:close], body))
            i = close + 1
        else:
            buf.append("$")
            i = k + 1
    text = "".join(buf)
    if text or not parts:
        parts.append(text)
    return Template(value, tuple(parts))


def evaluate(value: object, env: Mapping[str, object], functions: Mapping[str, Callable] | None = None) -> object:
    """Evaluate `value`: strings with `${...}` (or `$${` escapes) are evaluated; lists, tuples and
    dict values are walked recursively; everything else passes through unchanged."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        return parse(value).evaluate(env, functions)
    if isinstance(value, list):
        return [evaluate(v, env, functions) for v in value]
    if isinstance(value, tuple):
        return tuple(evaluate(v, env, functions) for v in value)
    if isinstance(value, dict):
        return {k: evaluate(v, env, functions) for k, v in value.items()}
    return value
