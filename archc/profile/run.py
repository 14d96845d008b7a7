"""`archc profile` as an API: static analysis, measurement, batch and symbol sweeps, budgets.

`profile_spec(loaded, options, request)` returns the JSON document (see `archc.report.profile`
for its schema). Static analysis never imports torch; measuring does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from archc.errors import UsageError
from archc.ir.graph import Graph
from archc.pipeline import Options, run
from archc.profile.budget import check_memory, measured_sizes
from archc.profile.static import StaticProfile, analyze, batch_symbol

MEASURING_DEVICES = ("cpu", "cuda", "mps")


@dataclass
class Request:
    device: str = "meta"                   # meta: static only
    dtype: str | None = None               # float32 / bfloat16 / float16 (None: the spec's)
    warmup: int = 3
    repeats: int = 20
    compile: bool = False
    batch_sizes: list[int] = field(default_factory=list)
    sweep: tuple[str, list[int]] | None = None
    per_node: bool = True
    memory: bool = True
    node_runs: int = 5

    @property
    def measuring(self) -> bool:
        return self.device.split(":")[0] in MEASURING_DEVICES


def _graph(loaded: Any, opts: Options, extra: dict[str, Any]) -> Graph:
    o = Options({**opts.overrides, **extra}, opts.variant, opts.param_limit, opts.override_spans, memory_limit=opts.memory_limit)
    return run(loaded, o, until="check").graph


def profile_spec(loaded: Any, opts: Options, req: Request,
                 progress: Callable[[str, int, int], None] | None = None) -> tuple[Graph, StaticProfile, dict]:
    """(graph, static profile, results) where results holds `measured`, `throughput`, `sweep`."""
    graph = run(loaded, opts, until="check").graph
    static = analyze(graph, dtype=req.dtype)
    results: dict[str, Any] = {"measured": None, "throughput": [], "sweep": None}
    measure = None
    if req.measuring:
        from archc.profile import measure as _m

        check_memory(graph, measured_sizes(graph, req.batch_sizes, req.sweep), "profile", dtype=req.dtype,
                     limit=opts.memory_limit, spans=opts.override_spans)

        _m.check_device(req.device)
        measure = _m.measure
        results["measured"] = measure(graph, req.device, req.dtype, warmup=req.warmup, repeats=req.repeats,
                                      compile=req.compile, per_node=req.per_node, memory=req.memory,
                                      node_runs=req.node_runs, progress=progress)
    if req.batch_sizes:
        bs_sym = batch_symbol(graph)
        if bs_sym is None:
            raise UsageError("--batch-size needs a batch symbol (a symbol as dim 0 of the first input); "
                                    "this spec has none")
        for i, b in enumerate(req.batch_sizes):
            g = _graph(loaded, opts, {bs_sym: b})
            s = analyze(g, dtype=req.dtype)
            row: dict[str, Any] = {"batch_size": b, "macs": s.macs, "flops": s.flops, "flops_causal": s.flops_causal,
                                   "static_peak_bytes": s.static_peak_bytes, "latency_ms": None,
                                   "samples_per_s": None, "peak_memory_bytes": None}
            if measure is not None:
                m = measure(g, req.device, req.dtype, warmup=req.warmup, repeats=req.repeats, compile=req.compile,
                            per_node=False, memory=req.memory,
                            progress=(lambda ph, d, t, b=b: progress(f"batch {b}", d, t)) if progress else None)
                row["latency_ms"] = m["latency_ms"]
                row["samples_per_s"] = b / (m["latency_ms"]["median"] / 1e3)
                row["peak_memory_bytes"] = m["peak_memory_bytes"]
            results["throughput"].append(row)
    if req.sweep is not None:
        sym, values = req.sweep
        if sym not in graph.symbols:
            known = ", ".join(graph.symbols) or "none"
            raise UsageError(f"--sweep {sym}: the spec has no symbol {sym!r} (symbols: {known})")
        rows = []
        for v in values:
            g = _graph(loaded, opts, {sym: v})
            s = analyze(g, dtype=req.dtype)
            row = {"value": v, "symbols": dict(s.symbols), "params": s.params, "macs": s.macs, "flops": s.flops,
                   "macs_causal": s.macs_causal, "flops_causal": s.flops_causal, "activation_bytes": s.activation_bytes,
                   "static_peak_bytes": s.static_peak_bytes, "latency_ms": None, "peak_memory_bytes": None}
            if measure is not None:
                m = measure(g, req.device, req.dtype, warmup=req.warmup, repeats=req.repeats, compile=req.compile,
                            per_node=False, memory=req.memory,
                            progress=(lambda ph, d, t, v=v: progress(f"{sym}={v}", d, t)) if progress else None)
                row["latency_ms"] = m["latency_ms"]
                row["peak_memory_bytes"] = m["peak_memory_bytes"]
            rows.append(row)
        results["sweep"] = {"symbol": sym, "rows": rows}
    return graph, static, results
