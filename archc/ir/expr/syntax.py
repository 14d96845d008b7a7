"""Parsing one `${...}`: `ast.parse` in eval mode (never running code), the allow-list of node
types and the parse-time limits (ARC107), and where each node sits in the spec string.
"""
from __future__ import annotations

import ast
import math
import re
import warnings

from archc.ir.expr.functions import _KEYWORDS
from archc.ir.expr.limits import _bad, _did_you_mean, MAX_DEPTH, MAX_INT, MAX_NODES, MAX_SOURCE


_BINOPS: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
    ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
}
_BAD_BINOPS: dict[type, str] = {
    ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
}
_UNARYOPS: dict[type, str] = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not"}
_CMPOPS: dict[type, str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in",
}

# Node types that are "decorations" of other nodes and not counted toward size/depth.
_MARKERS = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)

_ALLOWED_HINT = "expressions may use names, literals, lists, arithmetic, comparisons, `and`/`or`/`not`, `a if c else b`, indexing and calls like `max(a, b)`"

_DISALLOWED: dict[type, str] = {
    ast.Attribute: "attribute access is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "list comprehensions are not allowed",
    ast.SetComp: "set comprehensions are not allowed",
    ast.DictComp: "dict comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "the walrus operator `:=` is not allowed",
    ast.Starred: "starred expressions (`*x`) are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Await: "`await` is not allowed",
    ast.Yield: "`yield` is not allowed",
    ast.YieldFrom: "`yield from` is not allowed",
}


class _Expr:
    """One parsed `${...}`: its AST and where its source sits in the original string."""

    __slots__ = ("source", "tree", "start", "line_starts", "line_bytes")

    def __init__(self, source: str, tree: ast.expr, start: int):
        self.source = source
        self.tree = tree
        self.start = start
        self.line_starts, self.line_bytes = _lines(source)

    def offset_of(self, node: ast.AST | None) -> int | None:
        """Character offset of `node` in the original string value."""
        if node is None or not hasattr(node, "lineno"):
            return None
        return self.start + _src_offset(self.line_starts, self.line_bytes, node.lineno, node.col_offset, True)


_NEWLINE = re.compile(r"\r\n|\r|\n")  # the line breaks Python's tokenizer knows


def _lines(source: str) -> tuple[list[int], list[bytes]]:
    """Start offset and UTF-8 bytes of each source line (ast columns count bytes)."""
    starts, chunks, pos = [], [], 0
    for m in _NEWLINE.finditer(source):
        starts.append(pos)
        chunks.append(source[pos : m.start()].encode("utf-8"))
        pos = m.end()
    starts.append(pos)
    chunks.append(source[pos:].encode("utf-8"))
    return starts, chunks


def _src_offset(line_starts: list[int], line_bytes: list[bytes], lineno: int, col: int | None, col_is_bytes: bool) -> int:
    """Map a (wrapped-source) line/column to a 0-based char offset in the unwrapped source."""
    idx = lineno - 2  # the source is parsed as "(\n" + source + "\n)"
    if idx < 0:
        return 0
    if idx >= len(line_starts):
        return line_starts[-1] + len(line_bytes[-1].decode("utf-8", "ignore"))
    col = max(col or 0, 0)
    if col_is_bytes:
        col = len(line_bytes[idx][:col].decode("utf-8", "ignore"))
    line_len = len(line_bytes[idx].decode("utf-8", "ignore"))
    return line_starts[idx] + min(col, line_len)


def _find_close(value: str, start: int) -> int:
    """Index of the `}` closing the `${` whose body starts at `start`.

    Tracks string literals and bracket nesting, so `${"}"}` and `${ [1, 2][0] }` work.
    Raises ARC107 for an unterminated or overlong expression and for a stray `)`/`]`.
    """
    n = len(value)
    limit = start + MAX_SOURCE
    stack: list[str] = []
    quote: str | None = None
    k = start
    pairs = {")": "(", "]": "["}
    while k < n:
        if k > limit:
            raise _bad(
                f"expression is longer than {MAX_SOURCE} characters",
                offset=start - 2,
            )
        c = value[k]
        if quote is not None:
            if c == "\\":
                k += 2
                continue
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            stack.append(c)
        elif c in ")]":
            if not stack:
                raise _bad(f"unmatched `{c}`", offset=k)
            if stack[-1] != pairs[c]:
                raise _bad(f"`{c}` does not match `{stack[-1]}`", offset=k)
            stack.pop()
        elif c == "}":
            if not stack or stack[-1] != "{":
                return k
            stack.pop()
        k += 1
    if quote is not None:
        raise _bad("unterminated string in `${...}`", hint="close the quote, then the `}`", offset=start - 2)
    raise _bad("unterminated `${`: no closing `}`", hint="write `$${` for a literal `${`", offset=start - 2)


def _compile_one(source: str, start: int) -> _Expr:
    if len(source) > MAX_SOURCE:
        raise _bad(f"expression is longer than {MAX_SOURCE} characters", offset=start - 2)
    if not source.strip():
        raise _bad("empty expression `${}`", hint="write `$${` for a literal `${`", offset=start - 2)
    starts, lbytes = _lines(source)
    try:
        # Parenthesised so that leading whitespace and line breaks are allowed; _find_close
        # already refused a stray `)` that could escape the parentheses.
        with warnings.catch_warnings():  # e.g. invalid escape sequences: same result either way
            warnings.simplefilter("ignore")
            tree = ast.parse("(\n" + source + "\n)", mode="eval")
    except SyntaxError as e:
        off = start + _src_offset(starts, lbytes, e.lineno or 2, (e.offset or 1) - 1, False)
        msg = (e.msg or "invalid syntax").rstrip(".")
        raise _bad(f"invalid expression: {msg}", offset=off) from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as e:
        raise _bad(f"invalid expression: {e}", offset=start - 2) from None
    expr = _Expr(source, tree.body, start)
    _validate(expr)
    return expr


def _validate(expr: _Expr) -> None:
    """Size/depth limits, then the allow-list, all iteratively (the tree may be deep)."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(expr.tree, 1)]
    order: list[ast.AST] = []
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _MARKERS):
            continue
        count += 1
        if count > MAX_NODES:
            raise _bad(f"expression is too complex (more than {MAX_NODES} parts)", offset=expr.start - 2)
        if depth > MAX_DEPTH:
            raise _bad(f"expression is nested too deeply (more than {MAX_DEPTH} levels)", offset=expr.offset_of(node))
        order.append(node)
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1))
    for node in order:
        _check_node(expr, node)


def _check_node(expr: _Expr, node: ast.AST) -> None:
    off = expr.offset_of(node)
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return
        if isinstance(v, int):
            if abs(v) > MAX_INT:
                raise _bad("integer literal is too large (limit ±10**18)", offset=off)
            return
        if isinstance(v, float):
            if not math.isfinite(v):
                raise _bad("float literal is too large", offset=off)
            return
        if isinstance(v, complex):
            raise _bad("complex numbers are not allowed", offset=off)
        if isinstance(v, bytes):
            raise _bad("bytes literals are not allowed", offset=off)
        if v is Ellipsis:
            raise _bad("`...` is not allowed", offset=off)
        raise _bad(f"literal {v!r} is not allowed", offset=off)
    if isinstance(node, ast.Name):
        if not isinstance(node.ctx, ast.Load):
            raise _bad("assignment is not allowed", offset=off)
        return
    if isinstance(node, (ast.List, ast.Tuple, ast.IfExp, ast.BoolOp, ast.Slice)):
        return
    if isinstance(node, ast.Subscript):
        if isinstance(node.slice, ast.Tuple):
            raise _bad("indexing with several indexes (`a[i, j]`) is not allowed", offset=expr.offset_of(node.slice))
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) in _BINOPS:
            return
        sym = _BAD_BINOPS.get(type(node.op), type(node.op).__name__)
        raise _bad(f"operator `{sym}` is not allowed", hint=_ALLOWED_HINT, offset=off)
    if isinstance(node, ast.UnaryOp):
        if type(node.op) in _UNARYOPS:
            return
        raise _bad("operator `~` is not allowed", hint=_ALLOWED_HINT, offset=off)
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _CMPOPS:
                word = "is not" if isinstance(op, ast.IsNot) else "is"
                raise _bad(f"`{word}` is not allowed", hint="use `==` or `!=`", offset=off)
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            if type(node.func) in _DISALLOWED:  # e.g. a method call: report the attribute access
                raise _bad(_DISALLOWED[type(node.func)], hint=_ALLOWED_HINT, offset=expr.offset_of(node.func))
            raise _bad(
                "only calls of a function by name are allowed, like `max(a, b)`",
                offset=expr.offset_of(node.func),
            )
        name = node.func.id
        allowed_kw = _KEYWORDS.get(name, frozenset())
        for kw in node.keywords:
            kw_off = expr.offset_of(kw) if hasattr(kw, "lineno") else off
            if kw.arg is None:
                raise _bad("`**` unpacking is not allowed", offset=kw_off)
            if not allowed_kw:
                raise _bad(
                    f"keyword arguments are not allowed (in the call of `{name}`)",
                    hint="only make_divisible takes keywords: `divisor=` and `min_value=`",
                    offset=kw_off,
                )
            if kw.arg not in allowed_kw:
                raise _bad(
                    f"`{name}` has no argument `{kw.arg}`",
                    hint=_did_you_mean(kw.arg, allowed_kw),
                    offset=kw_off,
                )
        return
    if isinstance(node, ast.keyword):
        return
    if isinstance(node, ast.comprehension):
        raise _bad("comprehensions are not allowed", offset=off)
    msg = _DISALLOWED.get(type(node))
    if msg is None:
        msg = f"{type(node).__name__} is not allowed"
    raise _bad(msg, hint=_ALLOWED_HINT, offset=off)


def _collect(tree: ast.AST) -> tuple[frozenset[str], frozenset[str]]:
    names: set[str] = set()
    calls: set[str] = set()
    func_nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            calls.add(node.func.id)
            func_nodes.add(id(node.func))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in func_nodes:
            names.add(node.id)
    return frozenset(names), frozenset(calls)
