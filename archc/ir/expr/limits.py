"""The bounds on a `${...}` expression, its error (`ExprError`, ARC107 / ARC108) and the checks
every intermediate value passes before it is kept.
"""
from __future__ import annotations

import difflib
import math
from typing import Any, Iterable


BAD_EXPRESSION = "ARC107"
EXPRESSION_ERROR = "ARC108"

MAX_SOURCE = 1000          # characters of one ${...}
MAX_NODES = 256            # AST nodes of one ${...}
MAX_DEPTH = 32             # AST nesting depth of one ${...}
MAX_INT = 10**18           # |int result|
MAX_LENGTH = 10_000        # elements + characters of a list/str result
MAX_POW_EXPONENT = 64      # |exponent| of **
MAX_ROUND_DIGITS = 64      # |ndigits| of round()


class ExprError(Exception):
    """A problem with a `${...}` expression.

    `code` is ARC107 (syntax, disallowed construct, parse-time limits) or ARC108 (evaluation
    failed).  `offset` is a 0-based character offset into the original string value (the
    whole ``"...${...}..."`` string), when known.
    """

    def __init__(self, code: str, message: str, hint: str | None = None, offset: int | None = None):
        self.code = code
        self.message = message
        self.hint = hint
        self.offset = offset
        super().__init__(f"{code} {message}")

    def __reduce__(self):  # keep picklable despite the custom __init__
        return (type(self), (self.code, self.message, self.hint, self.offset))

    def to_diagnostic(self, span: Any = None):
        """Convert to an `archc.diagnostics.Diagnostic` (the caller supplies the span)."""
        from archc.diagnostics import Diagnostic

        return Diagnostic(code=self.code, message=self.message, span=span, hint=self.hint)


def _bad(message: str, hint: str | None = None, offset: int | None = None) -> ExprError:
    return ExprError(BAD_EXPRESSION, message, hint, offset)


def _fail(message: str, hint: str | None = None, offset: int | None = None) -> ExprError:
    return ExprError(EXPRESSION_ERROR, message, hint, offset)


def _did_you_mean(name: str, candidates: Iterable[object]) -> str | None:
    pool = sorted({c for c in candidates if isinstance(c, str)})
    match = difflib.get_close_matches(name, pool, n=1)
    return f"did you mean `{match[0]}`?" if match else None


def _kind(v: object) -> str:
    """A value's type in plain words."""
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a float"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    if hasattr(type(v), "expr_kind"):  # a value that names itself (a symbolic size)
        return v.expr_kind()  # type: ignore[attr-defined]
    return f"a value of type {type(v).__name__}"


def _is_num(v: object) -> bool:
    return isinstance(v, (int, float))


def _size(v: object, limit: int = MAX_LENGTH) -> int:
    """Elements plus characters of a (possibly nested) list/str; stops counting past `limit`."""
    if isinstance(v, str):
        return len(v)
    if not isinstance(v, (list, tuple)):
        return 0
    total = 0
    stack: list[Any] = [v]
    while stack:
        cur = stack.pop()
        if isinstance(cur, str):
            total += len(cur)
        else:
            total += len(cur)
            for item in cur:
                if isinstance(item, (list, tuple, str)):
                    stack.append(item)
        if total > limit:
            return total
    return total


def _too_long(n: int) -> ExprError:
    return _fail(f"result too large: it would hold {n} elements/characters (the limit is {MAX_LENGTH})")


def _check(v: object) -> object:
    """Enforce the result bounds; tuples become lists.  Returns the (normalised) value."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        if -MAX_INT <= v <= MAX_INT:
            return v
        raise _fail("result too large: integers must stay within ±10**18")
    if isinstance(v, float):
        if math.isfinite(v):
            return v
        raise _fail("result too large: the value is not a finite number")
    if isinstance(v, complex):
        raise _fail("the result is not a real number")
    if isinstance(v, (str, list, tuple)):
        n = _size(v)
        if n > MAX_LENGTH:
            raise _too_long(n)
        return list(v) if isinstance(v, tuple) else v
    return v


def _normalize(v: object) -> object:
    return list(v) if isinstance(v, tuple) else v
