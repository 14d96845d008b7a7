"""The built-in functions a `${...}` expression may call (`BUILTIN_FUNCTIONS`), with their
argument checks, and `make_divisible`.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from archc.ir.expr.limits import _fail, _is_num, _kind, MAX_INT, MAX_ROUND_DIGITS


def _arity(name: str, args: tuple, lo: int, hi: int) -> None:
    if lo <= len(args) <= hi:
        return
    if lo == hi:
        want = f"{lo} argument" + ("" if lo == 1 else "s")
    elif hi >= 1 << 30:
        want = f"at least {lo} argument" + ("" if lo == 1 else "s")
    else:
        want = f"{lo} to {hi} arguments"
    raise _fail(f"`{name}` takes {want}, got {len(args)}")


def _need_num(name: str, v: object, what: str = "a number") -> None:
    if not _is_num(v):
        raise _fail(f"`{name}` expects {what}, got {_kind(v)}")


def _need_finite(name: str, v: object) -> None:
    if isinstance(v, float) and not math.isfinite(v):
        raise _fail(f"`{name}` cannot take a value that is not finite ({v})")


def _minmax(name: str, pick: Callable, args: tuple) -> object:
    _arity(name, args, 1, 1 << 30)
    if len(args) == 1:
        seq = args[0]
        if not isinstance(seq, (list, tuple)):
            raise _fail(f"`{name}` of a single argument needs a list, got {_kind(seq)}")
        if not seq:
            raise _fail(f"`{name}` of an empty list")
    else:
        seq = args
    try:
        return pick(seq)
    except TypeError:
        kinds = sorted({_kind(x) for x in seq})
        raise _fail(f"`{name}` cannot compare {' and '.join(kinds)}") from None


def _fn_min(*args: object) -> object:
    return _minmax("min", min, args)


def _fn_max(*args: object) -> object:
    return _minmax("max", max, args)


def _fn_round(*args: object) -> object:
    _arity("round", args, 1, 2)
    x = args[0]
    _need_num("round", x)
    _need_finite("round", x)
    if len(args) == 1 or args[1] is None:
        return round(x)
    nd = args[1]
    if not isinstance(nd, int):
        raise _fail(f"`round` expects an integer number of digits, got {_kind(nd)}")
    if abs(nd) > MAX_ROUND_DIGITS:
        raise _fail(f"`round` digits must be within ±{MAX_ROUND_DIGITS}, got {nd}")
    return round(x, nd)


def _fn_int(*args: object) -> int:
    _arity("int", args, 1, 1)
    x = args[0]
    if isinstance(x, str):
        if len(x) > 64:
            raise _fail("`int` of a string longer than 64 characters")
        try:
            return int(x)
        except ValueError:
            raise _fail(f"`int` cannot convert the string {x!r} to an integer") from None
    _need_num("int", x, "a number or a string")
    _need_finite("int", x)
    return int(x)


def _fn_float(*args: object) -> float:
    _arity("float", args, 1, 1)
    x = args[0]
    if isinstance(x, str):
        if len(x) > 64:
            raise _fail("`float` of a string longer than 64 characters")
        try:
            return float(x)
        except ValueError:
            raise _fail(f"`float` cannot convert the string {x!r} to a number") from None
    _need_num("float", x, "a number or a string")
    try:
        return float(x)
    except OverflowError:
        raise _fail("result too large: the integer does not fit in a float") from None


def _fn_abs(*args: object) -> object:
    _arity("abs", args, 1, 1)
    _need_num("abs", args[0])
    return abs(args[0])


def _fn_len(*args: object) -> int:
    _arity("len", args, 1, 1)
    x = args[0]
    if not isinstance(x, (str, list, tuple)):
        raise _fail(f"`len` expects a list or a string, got {_kind(x)}")
    return len(x)


def _fn_sum(*args: object) -> object:
    _arity("sum", args, 1, 1)
    seq = args[0]
    if not isinstance(seq, (list, tuple)):
        raise _fail(f"`sum` expects a list of numbers, got {_kind(seq)}")
    total: Any = 0
    for item in seq:
        if not _is_num(item):
            raise _fail(f"`sum` expects a list of numbers, but it holds {_kind(item)}")
        total = total + item
        if isinstance(total, int) and abs(total) > MAX_INT:
            raise _fail("result too large: integers must stay within ±10**18")
    return total


def _fn_ceil(*args: object) -> int:
    _arity("ceil", args, 1, 1)
    _need_num("ceil", args[0])
    _need_finite("ceil", args[0])
    return math.ceil(args[0])


def _fn_floor(*args: object) -> int:
    _arity("floor", args, 1, 1)
    _need_num("floor", args[0])
    _need_finite("floor", args[0])
    return math.floor(args[0])


def _fn_sqrt(*args: object) -> float:
    _arity("sqrt", args, 1, 1)
    x = args[0]
    _need_num("sqrt", x)
    if x < 0:
        raise _fail(f"`sqrt` of a negative number ({x})")
    try:
        return math.sqrt(x)
    except (OverflowError, ValueError) as e:
        raise _fail(f"`sqrt` failed: {e}") from None


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round `v` to a multiple of `divisor` (MobileNet/EfficientNet), never going below 90% of `v`."""
    _need_num("make_divisible", v)
    _need_num("make_divisible", divisor, "a number as divisor")
    if min_value is not None:
        _need_num("make_divisible", min_value, "a number as min_value")
    _need_finite("make_divisible", v)
    _need_finite("make_divisible", divisor)
    if divisor <= 0:
        raise _fail(f"`make_divisible` needs a positive divisor, got {divisor}")
    if abs(v) > MAX_INT:
        raise _fail("result too large: integers must stay within ±10**18")
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _fn_make_divisible(*args: object, **kwargs: object) -> object:
    _arity("make_divisible", args, 1, 3)
    return make_divisible(*args, **kwargs)  # type: ignore[arg-type]


BUILTIN_FUNCTIONS: dict[str, Callable[..., object]] = {
    "min": _fn_min,
    "max": _fn_max,
    "round": _fn_round,
    "int": _fn_int,
    "float": _fn_float,
    "abs": _fn_abs,
    "len": _fn_len,
    "sum": _fn_sum,
    "make_divisible": _fn_make_divisible,
    "ceil": _fn_ceil,
    "floor": _fn_floor,
    "sqrt": _fn_sqrt,
}

# Keyword arguments accepted, per function name (checked at parse time).
_KEYWORDS: dict[str, frozenset[str]] = {"make_divisible": frozenset({"divisor", "min_value"})}
