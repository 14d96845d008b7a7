"""The tree walker that evaluates one parsed `${...}` over an environment, checking every
intermediate result against the limits before it is kept (ARC108).
"""
from __future__ import annotations

import ast
import math
from typing import Callable, Mapping

from archc.ir.expr.functions import BUILTIN_FUNCTIONS
from archc.ir.expr.limits import (
    _bad, _check, _did_you_mean, _fail, _is_num, _kind, _normalize, _size, _too_long, ExprError,
    MAX_LENGTH, MAX_POW_EXPONENT,
)
from archc.ir.expr.syntax import _BINOPS, _CMPOPS, _Expr, _UNARYOPS


def _run(expr: _Expr, env: Mapping[str, object], functions: Mapping[str, Callable] | None) -> object:
    try:
        return _Eval(expr, env, functions).visit(expr.tree)
    except ExprError as e:
        if e.offset is None:
            e.offset = expr.start
        raise
    except (RecursionError, MemoryError) as e:
        raise _fail(f"expression is too costly to evaluate ({type(e).__name__})", offset=expr.start) from None
    except Exception as e:  # safety net: nothing but ExprError leaves this module
        raise _fail(f"cannot evaluate the expression: {e}", offset=expr.start) from None


def _custom_op(a: object, b: object) -> Callable | None:
    """The `expr_op(symbol, a, b)` of an operand's type, for values that are not plain numbers but
    define their own arithmetic (the elaborator's symbolic sizes, `archc.elaborate.symsize`)."""
    for v in (a, b):
        fn = getattr(type(v), "expr_op", None)
        if fn is not None:
            return fn
    return None


class _Eval:
    __slots__ = ("expr", "env", "functions")

    def __init__(self, expr: _Expr, env: Mapping[str, object], functions: Mapping[str, Callable] | None):
        self.expr = expr
        self.env = env
        self.functions = functions

    def err(self, message: str, node: ast.AST, hint: str | None = None) -> ExprError:
        return _fail(message, hint, self.expr.offset_of(node))

    def visit(self, node: ast.AST) -> object:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:  # unreachable after _validate; kept as a guard
            raise _bad(f"{type(node).__name__} is not allowed", offset=self.expr.offset_of(node))
        return method(node)

    # -- leaves
    def visit_Constant(self, node: ast.Constant) -> object:
        return node.value

    def visit_Name(self, node: ast.Name) -> object:
        try:
            return _normalize(self.env[node.id])
        except KeyError:
            pass
        except Exception as e:
            raise self.err(f"cannot read `{node.id}`: {e}", node) from None
        try:
            keys = list(self.env.keys())
        except Exception:
            keys = []
        raise self.err(f"name `{node.id}` is not defined", node, _did_you_mean(node.id, keys))

    def visit_List(self, node: ast.List) -> list:
        out = [self.visit(e) for e in node.elts]
        try:
            return _check(out)  # type: ignore[return-value]
        except ExprError as e:
            raise self.err(e.message, node) from None

    visit_Tuple = visit_List

    # -- operators
    def visit_UnaryOp(self, node: ast.UnaryOp) -> object:
        v = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return not self._truth(v, node)
        sym = _UNARYOPS[type(node.op)]
        custom = _custom_op(v, None)
        if custom is not None:
            return self.custom(custom, "unary " + sym, v, None, node)
        if not _is_num(v):
            raise self.err(f"cannot apply unary `{sym}` to {_kind(v)}", node)
        return _check(-v if isinstance(node.op, ast.USub) else +v)

    def _truth(self, v: object, node: ast.AST) -> bool:
        try:
            return bool(v)
        except ExprError:
            raise
        except Exception as e:
            raise self.err(f"cannot use {_kind(v)} as a condition: {e}", node) from None

    def visit_BoolOp(self, node: ast.BoolOp) -> object:
        is_and = isinstance(node.op, ast.And)
        v: object = None
        for sub in node.values:
            v = self.visit(sub)
            truth = self._truth(v, sub)
            if is_and and not truth:
                return v
            if not is_and and truth:
                return v
        return v

    def visit_IfExp(self, node: ast.IfExp) -> object:
        if self._truth(self.visit(node.test), node.test):
            return self.visit(node.body)
        return self.visit(node.orelse)

    def visit_BinOp(self, node: ast.BinOp) -> object:
        a = self.visit(node.left)
        b = self.visit(node.right)
        return self.binop(type(node.op), a, b, node)

    def binop(self, op: type, a: object, b: object, node: ast.BinOp) -> object:
        sym = _BINOPS[op]
        if _is_num(a) and _is_num(b):
            return self.arith(op, sym, a, b, node)  # type: ignore[arg-type]
        custom = _custom_op(a, b)
        if custom is not None:
            return self.custom(custom, sym, a, b, node)
        if op is ast.Add:
            if (isinstance(a, str) and isinstance(b, str)) or (isinstance(a, list) and isinstance(b, list)):
                n = _size(a) + _size(b)
                if n > MAX_LENGTH:
                    raise self.err(_too_long(n).message, node)
                return a + b  # type: ignore[operator]
        if op is ast.Mult:
            seq, count = (a, b) if isinstance(a, (str, list)) else (b, a)
            if isinstance(seq, (str, list)) and isinstance(count, int):
                n = _size(seq) * max(count, 0)
                if n > MAX_LENGTH:
                    raise self.err(_too_long(n).message, node)
                return seq * count
            if isinstance(seq, (str, list)) and isinstance(count, float):
                raise self.err(f"cannot repeat {_kind(seq)} a non-integer number of times ({count})", node)
        if op is ast.Mod and isinstance(a, str):
            raise self.err("`%` formatting of strings is not allowed", node, "use interpolation: `\"a${x}b\"`")
        raise self.err(f"cannot apply `{sym}` to {_kind(a)} and {_kind(b)}", node)

    def custom(self, fn: Callable, sym: str, a: object, b: object, node: ast.AST) -> object:
        """An operator on a value that defines its own (`expr_op`), located at `node` when it refuses."""
        try:
            return fn(sym, a, b)
        except ExprError as e:
            if e.offset is None:
                e.offset = self.expr.offset_of(node)
            raise

    def arith(self, op: type, sym: str, a: float, b: float, node: ast.BinOp) -> object:
        if op in (ast.Div, ast.FloorDiv, ast.Mod) and b == 0:
            raise self.err("division by zero", node.right)
        if op is ast.Pow:
            return self.power(a, b, node)
        try:
            if op is ast.Add:
                r = a + b
            elif op is ast.Sub:
                r = a - b
            elif op is ast.Mult:
                r = a * b
            elif op is ast.Div:
                r = a / b
            elif op is ast.FloorDiv:
                r = a // b
            else:
                r = a % b
        except ZeroDivisionError:
            raise self.err("division by zero", node.right) from None
        except OverflowError:
            raise self.err("result too large", node) from None
        try:
            return _check(r)
        except ExprError as e:
            raise self.err(e.message, node) from None

    def power(self, a: float, b: float, node: ast.BinOp) -> object:
        if isinstance(b, float) and not math.isfinite(b):
            raise self.err("the exponent is not a finite number", node.right)
        if abs(b) > MAX_POW_EXPONENT:
            raise self.err(
                f"result too large: the exponent {b} exceeds the limit of {MAX_POW_EXPONENT}", node
            )
        if a == 0 and b < 0:
            raise self.err("division by zero (zero to a negative power)", node)
        if isinstance(a, int) and isinstance(b, int) and b > 0:
            bits = abs(int(a)).bit_length()
            # |a| >= 2**(bits-1), so |a**b| >= 2**((bits-1)*b); 2**60 > 10**18.
            if bits > 1 and (bits - 1) * b > 60:
                raise self.err("result too large", node)
        try:
            r = a ** b
        except ZeroDivisionError:
            raise self.err("division by zero (zero to a negative power)", node) from None
        except OverflowError:
            raise self.err("result too large", node) from None
        if isinstance(r, complex):
            raise self.err("the result is not a real number (negative base with a fractional exponent)", node)
        try:
            return _check(r)
        except ExprError as e:
            raise self.err(e.message, node) from None

    def visit_Compare(self, node: ast.Compare) -> bool:
        left = self.visit(node.left)
        for op, comp in zip(node.ops, node.comparators):
            right = self.visit(comp)
            if not self.compare(type(op), left, right, node):
                return False
            left = right
        return True

    def compare(self, op: type, a: object, b: object, node: ast.AST) -> bool:
        sym = _CMPOPS[op]
        custom = _custom_op(a, b) if op not in (ast.In, ast.NotIn) else None
        if custom is not None:
            return bool(self.custom(custom, sym, a, b, node))
        try:
            if op is ast.Eq:
                return bool(a == b)
            if op is ast.NotEq:
                return bool(a != b)
            if op in (ast.In, ast.NotIn):
                if isinstance(b, str):
                    if not isinstance(a, str):
                        raise self.err(f"`{sym}` a string needs a string on the left, got {_kind(a)}", node)
                elif not isinstance(b, list):
                    raise self.err(f"`{sym}` needs a list or a string on the right, got {_kind(b)}", node)
                found = a in b
                return found if op is ast.In else not found
            ordered = (_is_num(a) and _is_num(b)) or (
                type(a) is type(b) and isinstance(a, (str, list))
            )
            if not ordered:
                raise self.err(f"cannot compare {_kind(a)} with {_kind(b)} using `{sym}`", node)
            if op is ast.Lt:
                return bool(a < b)  # type: ignore[operator]
            if op is ast.LtE:
                return bool(a <= b)  # type: ignore[operator]
            if op is ast.Gt:
                return bool(a > b)  # type: ignore[operator]
            return bool(a >= b)  # type: ignore[operator]
        except ExprError:
            raise
        except TypeError:
            raise self.err(f"cannot compare {_kind(a)} with {_kind(b)} using `{sym}`", node) from None

    # -- indexing
    def visit_Subscript(self, node: ast.Subscript) -> object:
        value = self.visit(node.value)
        if not isinstance(value, (list, str)):
            raise self.err(f"cannot index {_kind(value)}", node.value)
        if isinstance(node.slice, ast.Slice):
            bounds = []
            for part in (node.slice.lower, node.slice.upper, node.slice.step):
                if part is None:
                    bounds.append(None)
                    continue
                v = self.visit(part)
                if v is not None and not isinstance(v, int):
                    raise self.err(f"slice bounds must be integers, got {_kind(v)}", part)
                bounds.append(v)
            if bounds[2] == 0:
                raise self.err("slice step cannot be zero", node.slice.step)
            try:
                return _check(value[bounds[0]:bounds[1]:bounds[2]])
            except ExprError as e:
                raise self.err(e.message, node) from None
        idx = self.visit(node.slice)
        if not isinstance(idx, int):
            raise self.err(f"an index must be an integer, got {_kind(idx)}", node.slice)
        if not -len(value) <= idx < len(value):
            what = "string" if isinstance(value, str) else "list"
            raise self.err(f"index {idx} is out of range for a {what} of length {len(value)}", node.slice)
        return value[idx]

    def visit_Slice(self, node: ast.Slice) -> object:  # only reached through visit_Subscript
        raise self.err("a slice can only be used inside `[...]`", node)

    # -- calls
    def visit_Call(self, node: ast.Call) -> object:
        name = node.func.id  # type: ignore[attr-defined]
        fn: Callable | None = None
        if self.functions is not None and name in self.functions:
            fn = self.functions[name]
        else:
            fn = BUILTIN_FUNCTIONS.get(name)
        if fn is None:
            pool = list(BUILTIN_FUNCTIONS) + (list(self.functions) if self.functions else [])
            raise self.err(f"function `{name}` is not defined", node.func, _did_you_mean(name, pool))
        args = [self.visit(a) for a in node.args]
        kwargs = {kw.arg: self.visit(kw.value) for kw in node.keywords}
        try:
            result = fn(*args, **kwargs)
        except ExprError as e:
            if e.offset is None:
                e.offset = self.expr.offset_of(node)
            raise
        except (RecursionError, MemoryError) as e:
            raise self.err(f"`{name}` failed: {type(e).__name__}", node) from None
        except Exception as e:
            raise self.err(f"`{name}` failed: {e}", node) from None
        try:
            return _check(_normalize(result))
        except ExprError as e:
            raise self.err(e.message, node) from None
