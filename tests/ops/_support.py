"""Shared by the op tests: a minimal shape-inference context."""
from __future__ import annotations

from archc.ir.dims import UnboundSymbol, dim_str, equal, evaluate, free_symbols
from archc.ir.types import ShapeError
from archc.ops import InferContext


class Ctx(InferContext):
    """Checks equalities at `env` (ARC201 when they fail) and records the symbolic ones as
    (a, b, what, inputs)."""

    def __init__(self, env: dict[str, int] | None = None):
        self.env = dict(env or {})
        self.constraints: list[tuple] = []

    def require_equal(self, a, b, what, inputs=None):
        if equal(a, b):
            return
        try:
            va, vb = evaluate(a, self.env), evaluate(b, self.env)
        except UnboundSymbol:
            self.constraints.append((a, b, what, inputs))
            return
        if va != vb:
            raise ShapeError("ARC201", f"{what}: {dim_str(a)} ({va}) != {dim_str(b)} ({vb})")
        if free_symbols(a) or free_symbols(b):
            self.constraints.append((a, b, what, inputs))

    def example(self, d):
        return evaluate(d, self.env)
