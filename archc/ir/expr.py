"""Safe `${...}` expressions in spec values.

A string that is exactly ``"${...}"`` evaluates to a typed value (int, float, bool, list,
str or None).  A string with ``${...}`` embedded in other text (``"block${i}"``) is
interpolation and always yields a str.  ``$${`` writes a literal ``${``.

Expressions are parsed with ``ast.parse(..., mode="eval")`` (parsing never runs code) and
evaluated by the tree walker below over an allow-list of node types.  Nothing here calls
``eval``/``exec``/``compile``.  Every evaluation is bounded: source length, AST size and
depth are checked at parse time (ARC107), and every intermediate result is checked for
magnitude/length *before* it is allocated (ARC108), so hostile input is refused quickly.

This module must stay import-light: it runs inside the torch-free linter.
"""
from __future__ import annotations

import ast
import difflib
import functools
import math
import re
import warnings
from typing import Any, Callable, Iterable, Mapping

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


# --------------------------------------------------------------------------- value helpers


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


# --------------------------------------------------------------------------- built-in functions


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


# --------------------------------------------------------------------------- parsing

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


class Template:
    """A parsed spec string: literal text and `${...}` expressions."""

    __slots__ = ("value", "parts", "names", "calls", "is_single")

    def __init__(self, value: str, parts: tuple[str | _Expr, ...]):
        self.value = value
        self.parts = parts
        names: set[str] = set()
        calls: set[str] = set()
        for p in parts:
            if isinstance(p, _Expr):
                n, c = _collect(p.tree)
                names |= n
                calls |= c
        self.names: frozenset[str] = frozenset(names)
        self.calls: frozenset[str] = frozenset(calls)
        self.is_single: bool = (
            len(parts) == 1 and isinstance(parts[0], _Expr) and value.startswith("${") and value.endswith("}")
        )

    def __repr__(self) -> str:
        return f"Template({self.value!r})"

    @property
    def has_expr(self) -> bool:
        return any(isinstance(p, _Expr) for p in self.parts)

    def evaluate(self, env: Mapping[str, object], functions: Mapping[str, Callable] | None = None) -> object:
        """Evaluate: the typed value if `is_single`, else the interpolated str."""
        if self.is_single:
            return _run(self.parts[0], env, functions)  # type: ignore[arg-type]
        out: list[str] = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
                continue
            v = _run(p, env, functions)
            try:
                text = str(v)
            except Exception as e:  # e.g. an int past Python's str-digits limit
                raise _fail(f"cannot convert the value to text: {e}", offset=p.start) from None
            if len(text) > MAX_LENGTH:
                raise _fail(
                    f"interpolated value too large: {len(text)} characters (the limit is {MAX_LENGTH})",
                    offset=p.start,
                )
            out.append(text)
        return "".join(out)


def contains_expr(value: object) -> bool:
    """True for a str containing an unescaped `${`."""
    if not isinstance(value, str):
        return False
    i = 0
    while True:
        k = value.find("$", i)
        if k < 0:
            return False
        if value.startswith("$${", k):
            i = k + 3
        elif value.startswith("${", k):
            return True
        else:
            i = k + 1


@functools.lru_cache(maxsize=4096)
def parse(value: str) -> Template:
    """Parse a spec string into a `Template`.  Raises `ExprError` (ARC107)."""
    if not isinstance(value, str):
        raise TypeError(f"parse() expects a str, got {type(value).__name__}")
    parts: list[str | _Expr] = []
    buf: list[str] = []
    i = 0
    n = len(value)
    while i < n:
        k = value.find("$", i)
        if k < 0:
            buf.append(value[i:])
            break
        buf.append(value[i:k])
        if value.startswith("$${", k):
            buf.append("${")
            i = k + 3
        elif value.startswith("${", k):
            body = k + 2
            close = _find_close(value, body)
            if buf:
                text = "".join(buf)
                if text:
                    parts.append(text)
                buf = []
            parts.append(_compile_one(value[body:close], body))
            i = close + 1
        else:
            buf.append("$")
            i = k + 1
    text = "".join(buf)
    if text or not parts:
        parts.append(text)
    return Template(value, tuple(parts))


def evaluate(value: object, env: Mapping[str, object], functions: Mapping[str, Callable] | None = None) -> object:
    """Evaluate `value`: strings with `${...}` (or `$${` escapes) are evaluated; lists, tuples and
    dict values are walked recursively; everything else passes through unchanged."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        return parse(value).evaluate(env, functions)
    if isinstance(value, list):
        return [evaluate(v, env, functions) for v in value]
    if isinstance(value, tuple):
        return tuple(evaluate(v, env, functions) for v in value)
    if isinstance(value, dict):
        return {k: evaluate(v, env, functions) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- evaluation


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
        if not _is_num(v):
            raise self.err(f"cannot apply unary `{sym}` to {_kind(v)}", node)
        return _check(-v if isinstance(node.op, ast.USub) else +v)

    def _truth(self, v: object, node: ast.AST) -> bool:
        try:
            return bool(v)
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
