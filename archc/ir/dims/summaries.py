"""What ops require of the symbols and the summaries of those requirements.

A `Constraint` is one equality ``lhs == rhs`` an op needs; `describe_constraints` groups them by
their free symbols and describes each single-symbol group exactly on a window of the symbol's range
(``H % 16 == 0``, ``H % 4 in {1, 3} and H >= 5``) by scanning the values, evaluated column-wise
(`_column`), as bitmasks; `satisfies` checks an environment exactly.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from itertools import compress, repeat
from typing import Mapping, Sequence

from archc.ir.dims.algebra import Dim, Sym, UnboundSymbol, dim_str, equal, evaluate, free_symbols


@dataclass(frozen=True)
class SymbolRange:
    min: int = 1
    max: int | None = None
    multiple_of: int = 1


@dataclass(frozen=True)
class Constraint:
    """The equality ``lhs == rhs`` an op requires.

    `origin` is the caller's tag, not compared: the elaborator stores an
    `archc.ir.graph.ConstraintOrigin` (node, what, inputs, span, input edges); this module
    never reads it.
    """

    lhs: Dim
    rhs: Dim
    origin: object = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{dim_str(self.lhs)} == {dim_str(self.rhs)}"


@dataclass(frozen=True)
class Derived:
    """A summary of the constraints over one set of free symbols.

    `text` is the rendered condition (``H % 8 == 0 and H >= 16``, or the raw equations);
    `modulus` / `residues` / `min_value` are set for a single-symbol group whose scan found a
    periodic pattern (``residues`` empty: no size works); `constraints` are the summarised ones.
    """

    symbols: tuple[str, ...]
    text: str
    modulus: int | None
    residues: frozenset[int] | None
    min_value: int | None
    constraints: tuple[Constraint, ...]


def satisfies(d: Derived, env: Mapping[str, int]) -> bool:
    """Whether `env` satisfies every constraint `d` summarises (evaluated exactly, so this is
    right even outside the scanned window). Raises UnboundSymbol for a missing symbol."""
    return all(evaluate(c.lhs, env) == evaluate(c.rhs, env) for c in d.constraints)


def _equations(cs: Sequence[Constraint]) -> str:
    return " and ".join(str(c) for c in cs)


def describe_constraints(
    constraints: Sequence[Constraint],
    ranges: Mapping[str, SymbolRange],
    search_limit: int = 4096,
) -> list:
    """Summarise constraints per set of free symbols (groups in order of first appearance).

    Single-symbol groups are scanned over the range's values in ``[min, min + search_limit)``
    and described as ``H % m == r`` / ``H % m in {...}`` (plus ``and H >= n`` for a lower
    bound) when that description is exact on the window; trivially satisfied groups are
    omitted. Other groups keep their raw equations.
    """
    groups: dict = {}
    for c in constraints:
        if equal(c.lhs, c.rhs):
            continue
        fs = free_symbols(c.lhs) | free_symbols(c.rhs)
        groups.setdefault(fs, []).append(c)
    out: list = []
    for fs, cs in groups.items():
        cs_t = tuple(cs)
        if not fs:
            out.append(Derived((), f"no size satisfies {_equations(cs)}", None, frozenset(), None, cs_t))
        elif len(fs) == 1:
            (name,) = fs
            d = _describe_single(name, cs_t, ranges.get(name, SymbolRange()), search_limit)
            if d is not None:
                out.append(d)
        else:
            out.append(Derived(tuple(sorted(fs)), _equations(cs), None, None, None, cs_t))
    return out


def _column(d: Dim, name: str, values: Sequence[int]) -> list:
    """`d` evaluated at every value of `values` (symbol `name` bound to it), as a list.

    A tree walk over the polynomial whose per-value arithmetic runs in ``map`` over
    ``operator`` builtins, so a scan is fast without generating and ``eval``-ing source.
    """
    n = len(values)
    if isinstance(d, int):
        return [d] * n
    total = None
    for m, c in d.terms:
        col = None
        for a in m:
            if type(a) is Sym:
                if a.name != name:
                    raise UnboundSymbol(a.name)
                f = values
            else:
                f = list(map(operator.floordiv, _column(a.num, name, values), repeat(a.den, n)))
            col = f if col is None else list(map(operator.mul, col, f))
        if col is None:
            col = [c] * n
        elif c != 1:
            col = list(map(operator.mul, col, repeat(c, n)))
        total = col if total is None else list(map(operator.add, total, col))
    return [0] * n if total is None else list(total)


def _scan(name: str, cs: Sequence[Constraint], values: range) -> int:
    """Bitmask: bit i set iff values[i] satisfies every constraint."""
    if not len(values):
        return 0
    idx: Sequence[int] = range(len(values))
    vals: Sequence[int] = values
    for c in cs:  # each constraint is evaluated only on the values that passed the earlier ones
        eq = map(operator.eq, _column(c.lhs, name, vals), _column(c.rhs, name, vals))
        idx = list(compress(idx, eq))
        if not idx:
            return 0
        vals = [values[i] for i in idx]
    digits = bytearray(b"0" * len(values))
    for i in idx:
        digits[i] = 49  # "1"
    digits.reverse()
    return int(digits, 2)


def _window(rng: SymbolRange, search_limit: int) -> range:
    k = max(1, rng.multiple_of)
    v0 = -((-rng.min) // k) * k  # first multiple of k >= min
    hi = rng.min + max(0, search_limit)
    if rng.max is not None:
        hi = min(hi, rng.max + 1)
    return range(v0, hi, k)


def first_unsatisfiable(name: str, cs: Sequence[Constraint], rng: SymbolRange, search_limit: int = 4096) -> int | None:
    """The index of the first constraint of `cs` (in order) after which no size of `name` in the
    scanned window satisfies the ones so far; None when some size satisfies them all. The
    constraint it names is where the requirements became impossible (a join of tensors of two
    different sizes); the later ones may only repeat that mistake downstream."""
    values = _window(rng, search_limit)
    vals: Sequence[int] = values
    if not len(values):
        return 0 if cs else None
    for i, c in enumerate(cs):
        eq = map(operator.eq, _column(c.lhs, name, vals), _column(c.rhs, name, vals))
        vals = list(compress(vals, eq))
        if not vals:
            return i
    return None


def _describe_single(name: str, cs: tuple, rng: SymbolRange, search_limit: int):
    k = max(1, rng.multiple_of)
    values = _window(rng, search_limit)
    v0 = values.start
    n = len(values)
    bits = _scan(name, cs, values)
    full = (1 << n) - 1
    if bits == full and n:
        return None  # every value in the range works
    if bits == 0:
        return Derived((name,), f"no size of {name} satisfies {_equations(cs)}", 1, frozenset(), None, cs)
    for m in range(1, max(1, n // 4) + 1):
        diff = (bits ^ (bits >> m)) & ((1 << (n - m)) - 1)
        s = diff.bit_length()  # the suffix from index s is m-periodic
        if s > n // 2:
            continue
        mask = (1 << m) - 1
        window = (bits >> s) & mask  # bit i: index s + i, residue (s + i) % m
        rot = s % m
        block = ((window << rot) | (window >> (m - rot))) & mask  # bit j: residue j
        pattern, length = block, m
        while length < n:
            pattern |= pattern << length
            length *= 2
        pattern &= full
        if bits & ~pattern:
            continue  # a value outside the residues works
        missing = pattern & ~bits
        low = missing.bit_length()  # values below index `low` are excluded
        if bits & ((1 << low) - 1):
            continue
        modulus = k * m
        residues = frozenset((v0 + k * j) % modulus for j in range(m) if (block >> j) & 1)
        parts = []
        if m > 1:
            if len(residues) == 1:
                parts.append(f"{name} % {modulus} == {next(iter(residues))}")
            else:
                parts.append(f"{name} % {modulus} in {{{', '.join(map(str, sorted(residues)))}}}")
        min_value = None
        if low:
            min_value = values[(bits & -bits).bit_length() - 1]
            parts.append(f"{name} >= {min_value}")
        return Derived((name,), " and ".join(parts), modulus, residues, min_value, cs)
    return Derived((name,), _equations(cs), None, None, None, cs)
