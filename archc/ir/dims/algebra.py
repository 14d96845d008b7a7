"""Exact symbolic integer dimensions.

A `Dim` is either a plain `int` or a `SymExpr`: an immutable, hashable, canonical integer
polynomial over *atoms*.  An atom is a symbol (`Sym("H")`) or a floor division
`FloorDiv(poly, c)` of a (canonical, non-constant) polynomial by an int ``c >= 2``.

Canonical form: a mapping monomial -> nonzero int coefficient, where a monomial is a sorted
tuple of atoms (with multiplicity) and the constant is stored under the empty monomial.
Whenever a result is constant a plain `int` is returned, so ``sym("H") - sym("H") == 0``.

Floor divisions are simplified by rules that are exact for *all* integer symbol values:

* pull out integer multiples: ``(c*q + r)//c == q + r//c`` (coefficients divisible by ``c``
  and the constant rounded up to a multiple of ``c``, so the constant left inside lies in
  ``(-c, 0]``: ``(H - 2)//2 -> H//2 - 1`` while ``(H - 1)//2 + 1`` stays as written);
* common factor: ``(g*p + r)//(g*c') == (p + r//g)//c'`` where ``g`` divides every
  non-constant coefficient and the divisor;
* nesting: ``(p//a + q)//b == (p + a*q)//(a*b)`` for a lone ``p//a`` term with coefficient 1;
* a constant numerator gives an `int`.

Standard library only; this module must import in milliseconds.
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence, Union


class UnboundSymbol(Exception):
    """`evaluate` met a symbol the environment does not bind."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unbound symbol {self.name!r}"


def _frozen_setattr(self, name, value):  # pragma: no cover - trivial
    raise AttributeError(f"{type(self).__name__} is immutable")


# ---------------------------------------------------------------------------------------------
# Atoms
# ---------------------------------------------------------------------------------------------


class Sym:
    """A named symbol atom (use `sym(name)` to get it as a `SymExpr`)."""

    __slots__ = ("name", "_key", "_hash")

    def __init__(self, name: str):
        if not isinstance(name, str) or not name:
            raise ValueError(f"symbol name must be a non-empty string, got {name!r}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "_key", (0, name))
        object.__setattr__(self, "_hash", hash(("Sym", name)))

    __setattr__ = _frozen_setattr

    def __eq__(self, other):
        return isinstance(other, Sym) and other.name == self.name

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"Sym({self.name!r})"

    def __reduce__(self):
        return (Sym, (self.name,))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class FloorDiv:
    """The atom ``num // den``: `num` a canonical non-constant `SymExpr`, `den` an int >= 2.

    Build these through `floordiv`, which simplifies; the constructor does not.
    """

    __slots__ = ("num", "den", "_key", "_hash")

    def __init__(self, num: "SymExpr", den: int):
        if not isinstance(num, SymExpr) or not isinstance(den, int) or den < 2:
            raise ValueError("FloorDiv needs a SymExpr numerator and an int divisor >= 2")
        object.__setattr__(self, "num", num)
        object.__setattr__(self, "den", den)
        object.__setattr__(self, "_key", (1, num._key, den))
        object.__setattr__(self, "_hash", hash(("FloorDiv", num, den)))

    __setattr__ = _frozen_setattr

    def __eq__(self, other):
        return (
            isinstance(other, FloorDiv)
            and other._hash == self._hash
            and other.den == self.den
            and other.num == self.num
        )

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"FloorDiv({self.num!r}, {self.den})"

    def __reduce__(self):
        return (FloorDiv, (self.num, self.den))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


Atom = Union[Sym, FloorDiv]
Monomial = tuple  # tuple[Atom, ...], sorted by atom key


def _atom_key(a: Atom):
    return a._key


def _mono_key(m: Monomial):
    return tuple(a._key for a in m)


# ---------------------------------------------------------------------------------------------
# Polynomials
# ---------------------------------------------------------------------------------------------


class SymExpr:
    """Canonical integer polynomial over atoms. Never constant (constants are plain ints)."""

    __slots__ = ("terms", "_key", "_hash", "_free")

    def __init__(self, *args, **kwargs):
        raise TypeError("build SymExpr values with sym(), add(), mul(), floordiv(), ...")

    @classmethod
    def _from_terms(cls, terms: tuple) -> "SymExpr":
        self = object.__new__(cls)
        key = tuple((_mono_key(m), c) for m, c in terms)
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_hash", hash(("SymExpr", terms)))
        object.__setattr__(self, "_free", None)
        return self

    __setattr__ = _frozen_setattr

    # -- identity ---------------------------------------------------------------------------
    def __eq__(self, other):
        if isinstance(other, SymExpr):
            return self is other or (self._hash == other._hash and self.terms == other.terms)
        if isinstance(other, int):
            return False
        return NotImplemented

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"SymExpr({dim_str(self)!r})"

    def __str__(self):
        return dim_str(self)

    def __reduce__(self):
        return (SymExpr._from_terms, (self.terms,))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    # -- arithmetic -------------------------------------------------------------------------
    def __add__(self, other):
        if not _is_dim(other):
            return NotImplemented
        return add(self, other)

    def __radd__(self, other):
        if not _is_dim(other):
            return NotImplemented
        return add(other, self)

    def __sub__(self, other):
        if not _is_dim(other):
            return NotImplemented
        return sub(self, other)

    def __rsub__(self, other):
        if not _is_dim(other):
            return NotImplemented
        return sub(other, self)

    def __mul__(self, other):
        if not _is_dim(other):
            return NotImplemented
        return mul(self, other)

    def __rmul__(self, other):
        if not _is_dim(other):
            return NotImplemented
        return mul(other, self)

    def __neg__(self):
        return neg(self)

    def __pos__(self):
        return self

    def __floordiv__(self, other):
        if not isinstance(other, int):
            return NotImplemented
        return floordiv(self, other)

    def __mod__(self, other):
        if not isinstance(other, int):
            return NotImplemented
        return sub(self, mul(other, floordiv(self, other)))


Dim = Union[int, SymExpr]


def _is_dim(x) -> bool:
    return isinstance(x, (int, SymExpr))


def _check_dim(x, what: str = "dim") -> None:
    if not isinstance(x, (int, SymExpr)):
        raise TypeError(f"{what} must be an int or SymExpr, got {type(x).__name__}")


def _poly(d: Dim) -> dict:
    if isinstance(d, SymExpr):
        return dict(d.terms)
    _check_dim(d)
    return {(): int(d)} if d else {}


def _make(p: dict) -> Dim:
    """Canonical Dim from a monomial->coefficient dict (zero coefficients allowed)."""
    items = [(m, c) for m, c in p.items() if c]
    if not items:
        return 0
    if len(items) == 1 and items[0][0] == ():
        return items[0][1]
    items.sort(key=lambda mc: _mono_key(mc[0]))
    return SymExpr._from_terms(tuple(items))


def _add_into(acc: dict, p: Iterable, scale: int = 1) -> dict:
    for m, c in p:
        acc[m] = acc.get(m, 0) + c * scale
    return acc


def _mono_mul(m1: Monomial, m2: Monomial) -> Monomial:
    if not m1:
        return m2
    if not m2:
        return m1
    return tuple(sorted(m1 + m2, key=_atom_key))


def sym(name: str) -> SymExpr:
    """The symbol `name` as an expression."""
    return SymExpr._from_terms((((Sym(name),), 1),))


def add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    _check_dim(a)
    _check_dim(b)
    return _make(_add_into(_poly(a), _poly(b).items()))


def sub(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a - b
    _check_dim(a)
    _check_dim(b)
    return _make(_add_into(_poly(a), _poly(b).items(), -1))


def neg(a: Dim) -> Dim:
    if isinstance(a, int):
        return -a
    _check_dim(a)
    return SymExpr._from_terms(tuple((m, -c) for m, c in a.terms))


def mul(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    _check_dim(a)
    _check_dim(b)
    if isinstance(b, int):
        a, b = b, a
    if isinstance(a, int):  # scalar * poly keeps the canonical order
        if a == 0:
            return 0
        if a == 1:
            return b
        return SymExpr._from_terms(tuple((m, c * a) for m, c in b.terms))
    acc: dict = {}
    for m1, c1 in a.terms:
        for m2, c2 in b.terms:
            m = _mono_mul(m1, m2)
            acc[m] = acc.get(m, 0) + c1 * c2
    return _make(acc)


def _check_divisor(c) -> int:
    if isinstance(c, bool) or not isinstance(c, int):
        raise TypeError(f"divisor must be an int, got {type(c).__name__}")
    if c < 1:
        raise ValueError(f"divisor must be >= 1, got {c}")
    return c


def floordiv(a: Dim, c: int) -> Dim:
    """``a // c`` (floor division, exact for all integer symbol values), ``c >= 1``."""
    c = _check_divisor(c)
    _check_dim(a)
    if isinstance(a, int):
        return a // c
    if c == 1:
        return a
    return _floordiv_poly(dict(a.terms), c)


def ceildiv(a: Dim, c: int) -> Dim:
    """``ceil(a / c)`` computed as ``(a + c - 1) // c`` (identical to ``-((-a) // c)``).

    This form makes e.g. ``ceildiv(H, 2)`` come out as ``(H - 1)//2 + 1``, the same canonical
    form a stride-2 convolution produces.
    """
    c = _check_divisor(c)
    _check_dim(a)
    if isinstance(a, int):
        return -((-a) // c)
    return floordiv(add(a, c - 1), c)


def _floordiv_poly(p: dict, c: int) -> Dim:
    """Canonical ``p // c`` for a polynomial dict `p` and ``c >= 2``."""
    p = {m: k for m, k in p.items() if k}
    const = p.pop((), 0)
    if not p:
        return const // c
    # Rule 1/2: pull out multiples of c.  The constant is rounded *up* to a multiple of c, so
    # the remainder kept inside lies in (-c, 0]: exact since q is integer-valued.
    q: dict = {}
    r: dict = {}
    k = -((-const) // c)
    if k:
        q[()] = k
    rc = const - c * k
    for m, coef in p.items():
        if coef % c == 0:
            q[m] = coef // c
        else:
            r[m] = coef
    if not r:  # numerator left is the constant rc in (-c, 0]
        q[()] = q.get((), 0) + rc // c
        return _make(q)
    # Common factor: floor((g*p' + rc)/(g*c')) == floor((p' + floor(rc/g))/c').
    g = math.gcd(c, *r.values())
    if g > 1:
        inner = {m: coef // g for m, coef in r.items()}
        inner[()] = rc // g
        cc = c // g
        res = _make(inner) if cc == 1 else _floordiv_poly(inner, cc)
        return add(_make(q), res)
    # Nesting: floor((floor(p2/a) + rest)/c) == floor((p2 + a*rest)/(a*c)) for integer rest.
    fd_monos = [m for m in r if any(type(at) is FloorDiv for at in m)]
    if len(fd_monos) == 1:
        m = fd_monos[0]
        if len(m) == 1 and r[m] == 1:
            atom = m[0]
            a = atom.den
            inner = {mm: coef * a for mm, coef in r.items() if mm != m}
            inner[()] = rc * a
            _add_into(inner, atom.num.terms)
            return add(_make(q), _floordiv_poly(inner, a * c))
    if rc:
        r[()] = rc
    num = _make(r)
    assert isinstance(num, SymExpr)
    atom_expr = SymExpr._from_terms((((FloorDiv(num, c),), 1),))
    return add(_make(q), atom_expr)


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------


def is_const(d) -> bool:
    return isinstance(d, int)


def equal(a: Dim, b: Dim) -> bool:
    """Structural equality of canonical forms. True means provably equal; False means the
    forms differ (they may still agree for every value, or for some values)."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, SymExpr) and isinstance(b, SymExpr):
        return a == b
    _check_dim(a)
    _check_dim(b)
    return False


def _atom_free(a: Atom) -> frozenset:
    if type(a) is Sym:
        return frozenset((a.name,))
    return free_symbols(a.num)


def free_symbols(d: Dim) -> frozenset:
    if isinstance(d, int):
        return frozenset()
    _check_dim(d)
    if d._free is None:
        out: set = set()
        for m, _ in d.terms:
            for a in m:
                out |= _atom_free(a)
        object.__setattr__(d, "_free", frozenset(out))
    return d._free


def evaluate(d: Dim, env: Mapping[str, int]) -> int:
    """The integer value of `d` with every symbol bound by `env` (UnboundSymbol otherwise)."""
    if isinstance(d, int):
        return d
    _check_dim(d)
    cache: dict = {}

    def atom_val(a: Atom) -> int:
        v = cache.get(a)
        if v is None:
            if type(a) is Sym:
                try:
                    v = env[a.name]
                except KeyError:
                    raise UnboundSymbol(a.name) from None
                v = int(v)
            else:
                v = poly_val(a.num) // a.den
            cache[a] = v
        return v

    def poly_val(e: SymExpr) -> int:
        total = 0
        for m, coef in e.terms:
            t = coef
            for a in m:
                t *= atom_val(a)
            total += t
        return total

    return poly_val(d)


def substitute(d: Dim, env: Mapping[str, Dim]) -> Dim:
    """Replace the symbols `env` binds (by ints or other dims); the result is canonical."""
    if isinstance(d, int):
        return d
    _check_dim(d)
    cache: dict = {}

    def atom_sub(a: Atom) -> Dim:
        v = cache.get(a)
        if v is None:
            if type(a) is Sym:
                if a.name in env:
                    v = env[a.name]
                    _check_dim(v, f"value for {a.name}")
                else:
                    v = SymExpr._from_terms((((a,), 1),))
            else:
                v = floordiv(poly_sub(a.num), a.den)
            cache[a] = v
        return v

    def poly_sub(e: SymExpr) -> Dim:
        total: Dim = 0
        for m, coef in e.terms:
            t: Dim = coef
            for a in m:
                t = mul(t, atom_sub(a))
            total = add(total, t)
        return total

    return poly_sub(d)


# ---------------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------------


def _degree(e: SymExpr) -> int:
    return max(sum(_atom_degree(a) for a in m) for m, _ in e.terms)


def _atom_degree(a: Atom) -> int:
    return 1 if type(a) is Sym else _degree(a.num)


def _atom_display_key(a: Atom):
    if type(a) is Sym:
        return (0, a.name)
    return (1, _poly_str(a.num), a.den)


def _term_display_key(m: Monomial):
    return (-sum(_atom_degree(a) for a in m), tuple(_atom_display_key(a) for a in m), _mono_key(m))


def _floordiv_str(a: FloorDiv) -> str:
    num = a.num
    if len(num.terms) == 1:  # a single product: `H*W//256`, `-H//2`, `3*H//4` (left-assoc)
        s = _poly_str(num)
    else:
        s = f"({_poly_str(num)})"
    return f"{s}//{a.den}"


def _mono_str(m: Monomial, bare_ok: bool) -> str:
    """Product of atoms. A lone floor atom is bare only when `bare_ok` (coefficient +-1 and
    not the leading negative term)."""
    groups: list = []
    for a in m:
        if groups and groups[-1][0] == a:
            groups[-1][1] += 1
        else:
            groups.append([a, 1])
    lone = len(groups) == 1 and groups[0][1] == 1
    parts = []
    for a, n in groups:
        if type(a) is Sym:
            s = a.name
        else:
            s = _floordiv_str(a)
            if not (lone and bare_ok):
                s = f"({s})"
        parts.append(s if n == 1 else f"{s}**{n}")
    return "*".join(parts)


def _poly_str(e: SymExpr) -> str:
    const = 0
    terms = []
    for m, c in e.terms:
        if m == ():
            const = c
        else:
            terms.append((m, c))
    terms.sort(key=lambda mc: _term_display_key(mc[0]))
    out: list = []
    for i, (m, c) in enumerate(terms):
        first = i == 0
        mag = abs(c)
        # `-H//2` would parse as (-H)//2, so a leading negative floor atom gets parentheses.
        ms = _mono_str(m, bare_ok=(mag == 1 and not (first and c < 0)))
        body = ms if mag == 1 else f"{mag}*{ms}"
        if first:
            out.append(f"-{body}" if c < 0 else body)
        else:
            out.append(f" - {body}" if c < 0 else f" + {body}")
    if const:
        out.append(f" - {-const}" if const < 0 else f" + {const}")
    return "".join(out)


def dim_str(d: Dim) -> str:
    """Readable Python-like text: `H`, `2*H`, `H//2`, `(H - 1)//2 + 1`, `H*W//256`, `B*T`.

    The text is a valid Python expression with the same value (with `//` floor division)."""
    if isinstance(d, int):
        return str(d)
    _check_dim(d)
    return _poly_str(d)


def shape_str(shape: Sequence[Dim]) -> str:
    return "[" + ", ".join(dim_str(d) for d in shape) + "]"
