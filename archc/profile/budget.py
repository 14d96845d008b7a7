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


# --- the memory limit: what a command will allocate, checked before it allocates anything -------

MEMORY_LIMIT_FRACTION = 0.8     # the default --memory-limit: this fraction of the machine's memory
MEMORY_CODE = "ARC606"


def machine_memory() -> int | None:
    """The memory this process may use: physical RAM (os.sysconf), or the cgroup's limit when a
    container sets a smaller one. None when neither can be read."""
    import os

    total = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as f:
                raw = f.read().strip()
        except OSError:
            continue
        if raw.isdigit() and (total is None or int(raw) < total):
            total = int(raw)
        break
    return total


def default_memory_limit() -> int | None:
    """MEMORY_LIMIT_FRACTION of `machine_memory()` (None: unknown, nothing is checked)."""
    m = machine_memory()
    return None if m is None else int(m * MEMORY_LIMIT_FRACTION)


def parse_memory_limit(text: str | None) -> int | None:
    """`--memory-limit` (2GB, 512MiB, 1e9 bytes): the bytes, or None for the default. ValueError
    with a readable message when it is not a positive size."""
    if text is None:
        return None
    v = parse_bytes(text.strip() if isinstance(text, str) else text)
    if v <= 0:
        raise ValueError(f"{text!r} is not a positive size in bytes (e.g. 16GB, 512MiB)")
    return v


@dataclass
class MemoryEstimate:
    env: dict[str, int]
    total: int
    weights: int          # weights and buffers, all copies
    activations: int      # activations and example inputs
    peak_at: str | None
    detail: str


# What each command holds at once, as multiples of one copy of the weights and of one forward's
# activations (the static estimate's peak, example inputs included):
#   build:   the compiled module, its randomized copy and one artifact's runtime (3 weight copies);
#            one forward at a time, plus the compared outputs (activations once, outputs twice)
#   compare: the spec's module and the reference, each with its gradients (4 weight copies); both
#            keep every activation for the backward pass (all activations twice)
#   profile: the module and one forward (the static estimate itself)
def estimate(graph: Any, env: dict[str, int], command: str, dtype: str | None) -> MemoryEstimate:
    from archc.profile.static import analyze

    s = analyze(graph, env, dtype=dtype)
    w = s.weights_bytes + s.buffers_bytes
    if command == "compare":
        weights, acts = 4 * w, 2 * (s.activation_bytes + s.inputs_bytes)
        detail = (f"4 x weights {fmt_bytes(w)} (spec and reference, with gradients), 2 x activations "
                  f"{fmt_bytes(s.activation_bytes + s.inputs_bytes)} (kept for the backward pass)")
    elif command == "build":
        weights, acts = 3 * w, s.peak_activation_bytes + 2 * _output_bytes(s, graph)
        detail = (f"3 x weights {fmt_bytes(w)} (the module, its randomized copy, the artifact), peak activations "
                  f"{fmt_bytes(s.peak_activation_bytes)}" + (f" at `{s.peak_at}`" if s.peak_at else ""))
    else:
        weights, acts = w, s.peak_activation_bytes
        detail = f"weights {fmt_bytes(w)}, peak activations {fmt_bytes(s.peak_activation_bytes)}" + (
            f" at `{s.peak_at}`" if s.peak_at else "")
    return MemoryEstimate(dict(env), weights + acts, weights, acts, s.peak_at, detail)


def _output_bytes(s: Any, graph: Any) -> int:
    refs = {o.ref.node for o in graph.outputs.values()}
    return sum(n.output_bytes for n in s.nodes if n.path in refs)


def _blame(graph: Any, env: dict[str, int], spans: dict[str, Span] | None) -> tuple[Span | None, str | None]:
    """Where a refusal points: a size set on the command line (`--set B=...`), else the batch
    symbol's (or first symbol's) declaration, else the first input."""
    from archc.profile.static import batch_symbol

    spans = spans or {}
    for k in list(env) + list(getattr(graph, "params", {}) or {}):
        if k in spans:
            return spans[k], k
    for k in [batch_symbol(graph)] + list(env):
        sym = graph.symbols.get(k) if k else None
        if sym is not None and sym.span is not None:
            return sym.span, k
    first = next(iter(graph.inputs.values()), None)
    return (first.span if first is not None else None), None


def check_memory(graph: Any, envs: list[dict[str, int]], command: str, *, dtype: str | None = None,
                 limit: int | None = None, spans: dict[str, Span] | None = None,
                 sources: dict[str, str] | None = None) -> list[MemoryEstimate]:
    """Check what `command` (build, compare or profile) will allocate at each size in `envs`
    against `limit` (bytes; None: `default_memory_limit()`) before anything is allocated. Raises a
    DiagnosticError (ARC606) naming the size, the estimate and the limit at the first size over it;
    returns the estimates otherwise. Pure arithmetic on the static profile: no torch."""
    from archc.errors import DiagnosticError

    default = limit is None
    if default:
        limit = default_memory_limit()
    out = []
    for env in envs:
        try:
            est = estimate(graph, env, command, dtype)
        except Exception:  # noqa: BLE001 - a size the static profile cannot evaluate: elaboration reports it
            continue
        out.append(est)
        if limit is not None and est.total > limit:
            span, key = _blame(graph, env, spans)
            where = ", ".join(f"{k}={v}" for k, v in env.items()) or "its static sizes"
            lim = (f"the memory limit {fmt_bytes(limit)} ({MEMORY_LIMIT_FRACTION:.0%} of this machine's "
                   f"{fmt_bytes(machine_memory())})" if default else f"--memory-limit {fmt_bytes(limit)}")
            smaller = f"a smaller --set {key}=..." if key else "smaller sizes (--set)"
            raise DiagnosticError([Diagnostic(
                MEMORY_CODE, f"{command} at {where} would need about {fmt_bytes(est.total)} of memory "
                f"({est.total:,} bytes: {est.detail}), over {lim}", span,
                hint=f"use {smaller}, or raise --memory-limit if the machine has the memory")], sources)
    return out


MEMORY_LIMIT_HELP = (f"Largest memory the command may allocate, e.g. 16GB or 512MiB; every size it runs is checked "
                     f"before allocating (default: {MEMORY_LIMIT_FRACTION:.0%} of this machine's memory).")


def memory_limit_option(text: str | None) -> int | None:
    """`--memory-limit TEXT` as bytes (None: the default); a bad value is a usage error (exit 2)."""
    from archc.errors import UsageError

    try:
        return parse_memory_limit(text)
    except ValueError as e:
        raise UsageError(f"--memory-limit: {e}") from None


def measured_sizes(graph: Any, batch_sizes: list[int] | None = None,
                   sweep: tuple[str, list[int]] | None = None) -> list[dict[str, int]]:
    """Every size a measuring `archc profile` runs: the example, each `--batch-size` (the batch
    symbol set to it) and each `--sweep` value."""
    from archc.profile.static import batch_symbol

    env = dict(graph.example_env)
    out = [env]
    bs = batch_symbol(graph)
    if bs is not None:
        out += [{**env, bs: b} for b in batch_sizes or ()]
    if sweep is not None and sweep[0] in env:
        out += [{**env, sweep[0]: v} for v in sweep[1]]
    return out
