"""A shape query's value where a size may stay symbolic (`reshape`'s `shape`, `unflatten`'s `sizes`,
`upsample`'s `size`: the attributes an op names in `symbolic_sizes`).

`SymSize` wraps the queried dim (`H*W`, `H//2`) and the queries it came from, so that
`${dim(skip, 2) * 2}` evaluates to the dim `2*H` instead of the example size. Integer arithmetic
(`+`, `-`, `*`, `//` and `%` by a positive integer) keeps it symbolic; anything that needs one
number (a comparison, a condition, a float, `/`, `**`) is ARC208, naming the queries.
"""
from __future__ import annotations

from typing import Any, Mapping

from archc.ir import dims as D
from archc.ir.expr import ExprError

SYMBOLIC_QUERY = "ARC208"


class SymSize:
    """A symbolic dim produced by shape queries inside a `${...}` (the expression evaluator calls
    `expr_op` for every operator on it)."""

    __slots__ = ("dim", "queries", "example_env")

    def __init__(self, dim: D.Dim, queries: tuple[str, ...], example_env: Mapping[str, int]):
        self.dim, self.queries, self.example_env = dim, queries, example_env

    def expr_kind(self) -> str:
        return f"the symbolic size {self._what()}"

    def _what(self) -> str:
        return f"`{D.dim_str(self.dim)}` (from {', '.join(f'`{q}`' for q in self.queries)})"

    def refuse(self, why: str) -> ExprError:
        syms = sorted(D.free_symbols(self.dim))
        example = D.evaluate(self.dim, self.example_env)
        return ExprError(
            SYMBOLIC_QUERY,
            f"{why}, but {self._what()} depends on {', '.join(f'`{s}`' for s in syms)}: it has one value "
            f"only at the example ({example} at {', '.join(f'{s}={self.example_env[s]}' for s in syms)})",
            hint="a symbolic size can only be added, subtracted, multiplied and floor-divided by integers, "
                 "to give a size of `reshape`, `unflatten` or `upsample`; use a fixed dim where one number is needed")

    @staticmethod
    def expr_op(sym: str, a: Any, b: Any) -> Any:
        me = a if isinstance(a, SymSize) else b
        if sym.startswith("unary "):
            if sym == "unary -":
                return _wrap(D.neg(a.dim), a.queries, a.example_env)
            return a
        other = b if me is a else a
        if isinstance(other, bool) or not isinstance(other, (int, SymSize)):
            raise me.refuse(f"`{sym}` of a symbolic size and {_kind(other)} has no size value")
        x, y = _dim(a), _dim(b)
        queries = tuple(dict.fromkeys(_queries(a) + _queries(b)))
        if sym == "+":
            return _wrap(D.add(x, y), queries, me.example_env)
        if sym == "-":
            return _wrap(D.sub(x, y), queries, me.example_env)
        if sym == "*":
            return _wrap(D.mul(x, y), queries, me.example_env)
        if sym in ("//", "%"):
            if not isinstance(y, int):
                raise b.refuse(f"`{sym}` by a symbolic size has no exact form")
            if y < 1:
                raise me.refuse(f"`{sym}` by {y} is not a size")
            return _wrap(D.floordiv(x, y) if sym == "//" else x % y, queries, me.example_env)
        if sym in ("==", "!=", "<", "<=", ">", ">="):
            raise me.refuse(f"the comparison `{sym}` needs one value")
        raise me.refuse(f"`{sym}` does not give an integer size")

    def __bool__(self) -> bool:
        raise self.refuse("a condition needs one value")

    def __lt__(self, other: Any) -> bool:  # min(), max(), sorted()
        raise self.refuse("an ordering (min, max) needs one value")

    __gt__ = __le__ = __ge__ = __lt__

    def __str__(self) -> str:
        return D.dim_str(self.dim)

    def __repr__(self) -> str:
        return f"<size {D.dim_str(self.dim)}>"


def _kind(v: Any) -> str:
    from archc.ir.expr.limits import _kind as kind

    return kind(v)


def _dim(v: Any) -> D.Dim:
    return v.dim if isinstance(v, SymSize) else v


def _queries(v: Any) -> tuple[str, ...]:
    return v.queries if isinstance(v, SymSize) else ()


def _wrap(d: D.Dim, queries: tuple[str, ...], env: Mapping[str, int]) -> Any:
    """A plain int when the arithmetic cancelled the symbols (`dim(x, 2) - dim(x, 2)`)."""
    return d if isinstance(d, int) else SymSize(d, queries, env)


def unwrap(v: Any) -> Any:
    """An evaluated attribute with its symbolic sizes as dims (recursively in lists)."""
    if isinstance(v, SymSize):
        return v.dim
    if isinstance(v, list):
        return [unwrap(x) for x in v]
    return v
