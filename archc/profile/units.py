"""Reading and writing sizes: counts with SI suffixes (25M, 4.1G, 2e9) and bytes (2GB, 512MiB)."""
from __future__ import annotations

import math
import re

_COUNT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([kKMGTP]?)\s*$")
_BYTES = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([KMGTP]?)(i?)(B?)\s*$", re.I)
_SI = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
# the pattern `budget.max_memory` accepts in a spec (also in the JSON Schema)
MEMORY_PATTERN = r"^\s*[0-9]+(\.[0-9]*)?\s*([KMGTPkmgtp][iI]?)?[bB]?\s*$"


def parse_count(text: str | int | float) -> float:
    """`25M` -> 25e6, `4.1G` -> 4.1e9, `2e9`, `1000`. ValueError otherwise."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"{text!r} is not a non-negative number")
        return float(text)
    m = _COUNT.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a count (e.g. 25M, 4.1G, 2e9)")
    v = float(m.group(1)) * _SI[m.group(2)]
    if not math.isfinite(v):
        raise ValueError(f"{text!r} is too large")
    return v


def parse_bytes(text: str | int) -> int:
    """`2GB` -> 2e9, `512MiB` -> 512 * 2**20, `1.5G` -> 1.5e9, `1000` -> 1000 (bytes)."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"{text} is negative")
        return text
    m = _BYTES.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a size in bytes (e.g. 2GB, 512MiB, 1000)")
    num, prefix, binary = float(m.group(1)), m.group(2).upper(), bool(m.group(3))
    if binary and not prefix:
        raise ValueError(f"{text!r} is not a size in bytes (e.g. 2GB, 512MiB, 1000)")
    exp = "KMGTP".index(prefix) + 1 if prefix else 0
    return int(round(num * ((1024 ** exp) if binary else (1000 ** exp))))


def fmt_count(n: float | int | None, unit: str = "") -> str:
    if n is None:
        return "-"
    for suffix, div in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{suffix}{unit}"
    return f"{n:.0f}{unit}" if isinstance(n, float) else f"{n}{unit}"


def fmt_bytes(n: float | int | None) -> str:
    if n is None:
        return "-"
    for suffix, div in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if abs(n) >= div:
            return f"{n / div:.2f} {suffix}"
    return f"{int(n)} B"
