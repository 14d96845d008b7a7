"""Safe `${...}` expressions in spec values.

A string that is exactly ``"${...}"`` evaluates to a typed value (int, float, bool, list,
str or None).  A string with ``${...}`` embedded in other text (``"block${i}"``) is
interpolation and always yields a str.  ``$${`` writes a literal ``${``.

Expressions are parsed with ``ast.parse(..., mode="eval")`` (parsing never runs code) and
evaluated by the tree walker (`evaluation.py`) over an allow-list of node types.  Nothing here calls
``eval``/``exec``/``compile``.  Every evaluation is bounded: source length, AST size and
depth are checked at parse time (ARC107), and every intermediate result is checked for
magnitude/length *before* it is allocated (ARC108), so hostile input is refused quickly.

This package must stay import-light: it runs inside the torch-free linter.

The package, one concept per file: `limits` (the bounds, `ExprError`, the value checks),
`functions` (the built-in functions), `syntax` (parsing one ``${...}`` and its allow-list),
`template` (a spec string's `Template`, `parse`, `evaluate`), `evaluation` (the tree walker).
"""
from __future__ import annotations

from archc.ir.expr.limits import (  # noqa: F401  (BAD_EXPRESSION, EXPRESSION_ERROR, MAX_ROUND_DIGITS: not in __all__)
    BAD_EXPRESSION, EXPRESSION_ERROR, MAX_ROUND_DIGITS,
    ExprError, MAX_DEPTH, MAX_INT, MAX_LENGTH, MAX_NODES, MAX_POW_EXPONENT, MAX_SOURCE,
)
from archc.ir.expr.functions import BUILTIN_FUNCTIONS, make_divisible
from archc.ir.expr.template import Template, contains_expr, evaluate, parse

__all__ = [
    "BUILTIN_FUNCTIONS",
    "ExprError",
    "MAX_DEPTH",
    "MAX_INT",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_POW_EXPONENT",
    "MAX_SOURCE",
    "Template",
    "contains_expr",
    "evaluate",
    "make_divisible",
    "parse",
]
