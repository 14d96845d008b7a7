"""Sizes torch cannot hold: a dim, an attribute or a tensor's storage in bytes past int64.

torch keeps every size, stride and storage size in a signed 64-bit integer; past it, it fails in
C++ (`Overflow when unpacking long long`, `Storage size calculation overflowed`). Elaboration
checks the sizes it knows (static dims, the example sizes of symbols, op attributes, parameter and
buffer shapes) and reports ARC209 instead, in `check` and `lint` alike. Torch-free.
"""
from __future__ import annotations

from math import prod
from typing import Any, Iterable, Iterator

INT64_MAX = 2**63 - 1
DTYPE_BYTES = {"float64": 8, "int64": 8, "float32": 4, "int32": 4, "float16": 2, "bfloat16": 2,
               "int16": 2, "int8": 1, "uint8": 1, "bool": 1}


def shown(v: int) -> str:
    """A huge integer, readably: `10,000,000,000`, or `1000000...000 (31 digits)`."""
    s = str(abs(v))
    sign = "-" if v < 0 else ""
    return f"{v:,}" if len(s) <= 24 else f"{sign}{s[:6]}...{s[-3:]} ({len(s):,} digits)"


def big_ints(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, int]]:
    """Every integer in an attribute value (nested lists, tuples, dicts) outside int64, with where."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            yield path, value
    elif isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            yield from big_ints(v, path + (k,))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from big_ints(v, path + (k,))


def storage_problem(sizes: Iterable[int], dtype: str | None = None) -> str | None:
    """Why a tensor of these (known) sizes cannot exist, or None: a dim or the bytes past int64."""
    sizes = list(sizes)
    for k, s in enumerate(sizes):
        if s > INT64_MAX:
            return f"dim {k} is {shown(s)}, past the largest size torch holds (2^63 - 1)"
    n = prod(sizes) * DTYPE_BYTES.get(dtype or "float32", 4)
    if n > INT64_MAX:
        return f"its storage would be {shown(n)} bytes, past the largest torch holds (2^63 - 1)"
    return None
