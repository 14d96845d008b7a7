"""Exact symbolic integer dimensions and the constraints they imply on the symbols.

`algebra` holds the dims themselves (`Dim`: an int or a canonical `SymExpr` polynomial over
symbols and floor divisions, with exact simplification), their evaluation and printing;
`summaries` holds what ops require of them (`Constraint`) and the per-symbol summaries of those
requirements (`describe_constraints` -> `Derived`, found by scanning each symbol's range).
Every public name of both is importable from here.

Standard library only; this package must import in milliseconds.
"""
from __future__ import annotations

from archc.ir.dims.algebra import (
    Dim, FloorDiv, Sym, SymExpr, UnboundSymbol, add, ceildiv, dim_str, equal, evaluate, floordiv,
    free_symbols, is_const, mul, neg, shape_str, sub, substitute, sym,
)
from archc.ir.dims.summaries import (  # noqa: F401  (_scan, _column: for tests and benchmarks)
    Constraint, Derived, SymbolRange, _column, _scan, describe_constraints, first_unsatisfiable, satisfies,
)

__all__ = [
    "Dim",
    "Sym",
    "FloorDiv",
    "SymExpr",
    "UnboundSymbol",
    "sym",
    "add",
    "sub",
    "mul",
    "neg",
    "floordiv",
    "ceildiv",
    "evaluate",
    "substitute",
    "free_symbols",
    "is_const",
    "dim_str",
    "shape_str",
    "equal",
    "first_unsatisfiable",
    "SymbolRange",
    "Constraint",
    "Derived",
    "describe_constraints",
    "satisfies",
]
