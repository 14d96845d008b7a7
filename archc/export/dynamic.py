"""Dynamic shapes from the spec (the plan lives in `archc.ir.sizes`, which verification uses too, so
that the export build and `archc check` verify at the same two sizes per symbol)."""
from __future__ import annotations

from archc.ir.sizes import (  # noqa: F401  (re-exported)
    SCAN, SymbolPlan, _single_constraints, valid, _progression, _coupled, plan, _valid_in_plan, choose_sizes, _around, envs, _env_ok, trace_env, _SIZE_RE, axis_symbols, guard_in_spec_terms, guard_holds, narrow,
)
