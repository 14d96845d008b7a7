"""Budgets for CI: limits on parameters, FLOPs, memory and latency, from the spec's `budget:`
section or the command line (a flag overrides the spec's value for the same limit).

Each limit checked gives a `BudgetCheck`; an exceeded one is a Diagnostic (ARC610-ARC613) located
at the spec's budget line or at the flag on the command line. A latency budget without a
measurement is not checked (ARC614, a warning).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archc.diagnostics import Diagnostic, Span
from archc.profile.units import fmt_bytes, fmt_count, parse_bytes, parse_count

LIMITS = ("max_params", "max_flops", "max_memory", "max_latency_ms")
CODE = {"max_params": "ARC610", "max_flops": "ARC611", "max_memory": "ARC612", "max_latency_ms": "ARC613"}
FLAG = {"max_params": "--max-params", "max_flops": "--max-flops", "max_memory": "--max-memory",
        "max_latency_ms": "--max-latency-ms"}


@dataclass
class Limit:
    name: str
    value: float              # parsed (bytes for memory, ms for latency)
    text: str                 # as written
    source: str               # "spec" or "flag"
    span: Span | None = None


@dataclass
class BudgetCheck:
    name: str
    what: str                 # "params", "flops", "static memory", "measured peak memory", "median latency"
    limit: float
    value: float | None       # None: not checked
    source: str
    span: Span | None

    @property
    def ok(self) -> bool | None:
        return None if self.value is None else self.value <= self.limit

    def to_json(self) -> dict:
        return {"name": self.name, "what": self.what, "limit": self.limit, "value": self.value,
                "ok": self.ok, "checked": self.value is not None, "source": self.source,
                "line": self.span.line if self.span and self.source == "spec" else None,
                "file": self.span.file if self.span and self.source == "spec" else None}


def parse_limit(name: str, raw: Any) -> float:
    """The numeric value of a limit (ValueError with a readable message when it is not one)."""
    if name == "max_memory":
        return float(parse_bytes(raw))
    if name == "max_latency_ms":
        v = float(raw)
        if not v > 0:
            raise ValueError(f"{raw!r} is not a positive number of milliseconds")
        return v
    return parse_count(raw)


def collect(spec_budget: Any, spec_span: Any, flags: dict[str, tuple[Any, Span | None]]) -> dict[str, Limit]:
    """Limits from the spec (`spec_budget`: the BudgetDef or None; `spec_span(name)` its value's
    span) overridden by flags (`name -> (raw, span)`). Flag values must already be valid."""
    out: dict[str, Limit] = {}
    if spec_budget is not None:
        for name in LIMITS:
            raw = getattr(spec_budget, name, None)
            if raw is not None:
                out[name] = Limit(name, parse_limit(name, raw), str(raw), "spec", spec_span(name))
    for name, (raw, span) in flags.items():
        if raw is not None:
            out[name] = Limit(name, parse_limit(name, raw), str(raw), "flag", span)
    return out


def _fmt(name: str, v: float) -> str:
    if name == "max_memory":
        return f"{fmt_bytes(v)} ({int(v):,} bytes)"
    if name == "max_latency_ms":
        return f"{v:.3f} ms"
    return f"{fmt_count(v)} ({v:,.0f})"


def check(limits: dict[str, Limit], static: Any, measured: dict | None) -> tuple[list[BudgetCheck], list[Diagnostic]]:
    """Check the limits against a StaticProfile and (optionally) the measured results."""
    checks: list[BudgetCheck] = []
    diags: list[Diagnostic] = []

    def add(lim: Limit, what: str, value: float | None, detail: str = "") -> None:
        c = BudgetCheck(lim.name, what, lim.value, value, lim.source, lim.span)
        checks.append(c)
        where = f"`budget.{lim.name}: {lim.text}`" if lim.source == "spec" else f"`{FLAG[lim.name]} {lim.text}`"
        if value is None:
            diags.append(Diagnostic("ARC614", f"{what} budget {where} was not checked: nothing was measured",
                                    lim.span, severity="warning",
                                    hint="profile on a device (--device cpu, cuda or mps) to check it"))
        elif value > lim.value:
            over = (value / lim.value - 1) * 100 if lim.value else float("inf")
            diags.append(Diagnostic(
                CODE[lim.name], f"{what} {_fmt(lim.name, value)} exceeds the budget {where} "
                f"({_fmt(lim.name, lim.value)}) by {over:.1f}%{detail}", lim.span,
                hint="shrink the model or raise the budget" if lim.source == "spec" else None))

    if "max_params" in limits:
        add(limits["max_params"], "parameter count", static.params)
    if "max_flops" in limits:
        add(limits["max_flops"], "FLOPs (dense, one forward pass)", static.flops)
    if "max_memory" in limits:
        lim = limits["max_memory"]
        add(lim, "static memory estimate", static.static_peak_bytes,
            f" (weights {fmt_bytes(static.weights_bytes + static.buffers_bytes)}, peak activations "
            f"{fmt_bytes(static.peak_activation_bytes)} at `{static.peak_at}`)" if static.peak_at else "")
        peak = (measured or {}).get("peak_memory_bytes")
        if peak is not None:
            add(lim, "measured peak memory", peak)
    if "max_latency_ms" in limits:
        lat = (measured or {}).get("latency_ms", {}).get("median") if measured else None
        add(limits["max_latency_ms"], "median latency", lat)
    return checks, diags
