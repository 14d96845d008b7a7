"""The Python API: `load_spec`, `infer` and `compile`. The CLI is a thin layer over these, and
all of them are `archc.pipeline.run` up to a stage."""
from __future__ import annotations

import os
from typing import Any

from archc.errors import UsageError
from archc.ir.graph import Graph
from archc.pipeline import Options, run
from archc.session import DEFAULT_PARAM_LIMIT, Session
from archc.spec.load import LoadedSpec
from archc.spec.load import load_spec as _load_spec


def load_spec(path: str | os.PathLike, *, session: Session | None = None) -> LoadedSpec:
    """Read and validate a spec and its imports. Raises `DiagnosticError` listing every problem.

    With a `session`, problems inside single nodes are reported into it instead, so that
    elaboration (`archc.infer`) reports them together with everything else it finds."""
    return _load_spec(path, session=session)


def infer(spec_or_path: str | os.PathLike | LoadedSpec, overrides: dict[str, Any] | None = None,
          variant: str | None = None, param_limit: int | None = None) -> Graph:
    """The typed graph IR of a spec (torch-free; allocates nothing, so no parameter limit by default)."""
    return run(spec_or_path, Options(dict(overrides or {}), variant, param_limit), until="check").graph


def compile(spec_or_path: str | os.PathLike | LoadedSpec, overrides: dict[str, Any] | None = None,
            device: Any = None, *, variant: str | None = None, verify: bool = True,
            param_limit: int | None = DEFAULT_PARAM_LIMIT, weights: str | os.PathLike | None = None) -> Any:
    """Compile a spec to a verified `torch.fx.GraphModule` (in eval mode).

    `overrides` sets params and symbol sizes (like `--set`); `device="meta"` builds without
    allocating weights (and without the parameter limit). `weights` loads a safetensors or torch
    state_dict file (the spec's keys, or a reference's keys mapped by `reference.weights`).
    Raises `DiagnosticError`.
    """
    meta = device is not None and str(device) == "meta"
    if weights is not None and meta:
        raise UsageError("weights= needs a real device, not 'meta'")
    opts = Options(dict(overrides or {}), variant, None if meta else param_limit, device=device, verify=verify)
    unit = run(spec_or_path, opts, until="verify")
    if weights is not None:
        from archc.parity.weights import load_weights

        load_weights(unit.module, unit.graph, weights)
    return unit.module


def build(spec: str | os.PathLike, outdir: str, *, emit: list[str] | None = None, overrides: dict[str, Any] | None = None,
          override_spans: dict[str, Any] | None = None, variant: str | None = None, dynamic: list[str] | None = None,
          opset: int = 18, dtype: str = "float32", weights: str | None = None, force: bool = False,
          cmdline: str = "", latency_runs: int = 5) -> Any:
    """`archc build`: compile, verify, and write verified artifacts and manifest.json to OUTDIR.

    The pipeline up to `emit` (archc.export.build.emit). Returns the `BuildResult`; verification
    failures come back as its error diagnostics (nothing is written). Raises DiagnosticError (spec
    errors), UsageError (bad arguments, an unusable output folder), MissingDependency."""
    from archc.export.build import BuildRequest, check_request, prepare
    from archc.session import CMDLINE

    req = BuildRequest(str(outdir), list(emit) if emit else BuildRequest(str(outdir)).emit, dynamic, opset, dtype,
                       weights, force, latency_runs)
    check_request(req)
    # out of place: the search for a first diverging node reads every node's output
    session = Session(Options(dict(overrides or {}), variant, DEFAULT_PARAM_LIMIT, dict(override_spans or {}), inplace=False),
                      {CMDLINE: cmdline})
    unit = run(spec, session=session, until="check", emit=req)
    prepare(unit)                       # a bad --dynamic fails before anything is lowered
    return run(unit, until="emit").built


def profile(spec_or_path: str | os.PathLike | LoadedSpec, options: Options, request: Any) -> tuple[Graph, Any, dict]:
    """`archc profile`: the pipeline up to `measure` for the spec, then once per `--batch-size` and
    `--sweep` value (each a spec elaborated with that size). Returns (graph, static profile,
    results), results holding `measured`, `throughput` and `sweep` (archc.report.profile)."""
    import dataclasses

    from archc.profile.static import batch_symbol

    req = request
    unit = run(spec_or_path, options, until="measure", measure=req)
    graph, prof = unit.graph, unit.measured
    results: dict[str, Any] = {"measured": prof.measured, "throughput": [], "sweep": None}

    def at(extra: dict[str, Any], phase: str) -> Any:
        """The measure stage on the spec elaborated with EXTRA sizes (whole-graph timing only)."""
        o = Options({**options.overrides, **extra}, options.variant, options.param_limit, options.override_spans)
        cb = req.progress
        sub = dataclasses.replace(req, per_node=False, progress=(lambda ph, d, t: cb(phase, d, t)) if cb else None)
        return run(spec_or_path, o, until="measure", measure=sub).measured

    if req.batch_sizes:
        bs_sym = batch_symbol(graph)
        if bs_sym is None:
            raise UsageError("--batch-size needs a batch symbol (a symbol as dim 0 of the first input); "
                             "this spec has none")
        for b in req.batch_sizes:
            p = at({bs_sym: b}, f"batch {b}")
            s, m = p.static, p.measured
            results["throughput"].append({
                "batch_size": b, "macs": s.macs, "flops": s.flops, "flops_causal": s.flops_causal,
                "static_peak_bytes": s.static_peak_bytes,
                "latency_ms": m["latency_ms"] if m else None,
                "samples_per_s": b / (m["latency_ms"]["median"] / 1e3) if m else None,
                "peak_memory_bytes": m["peak_memory_bytes"] if m else None})
    if req.sweep is not None:
        sym, values = req.sweep
        syms = [s.strip() for s in sym.split(",")]   # `H,W`: every symbol set to each value
        for one in syms:
            if one not in graph.symbols:
                known = ", ".join(graph.symbols) or "none"
                raise UsageError(f"--sweep {sym}: the spec has no symbol {one!r} (symbols: {known})")
        rows = []
        for v in values:
            p = at({one: v for one in syms}, f"{sym}={v}")
            s, m = p.static, p.measured
            rows.append({"value": v, "symbols": dict(s.symbols), "params": s.params, "macs": s.macs, "flops": s.flops,
                         "macs_causal": s.macs_causal, "flops_causal": s.flops_causal,
                         "activation_bytes": s.activation_bytes, "static_peak_bytes": s.static_peak_bytes,
                         "latency_ms": m["latency_ms"] if m else None,
                         "peak_memory_bytes": m["peak_memory_bytes"] if m else None})
        results["sweep"] = {"symbol": sym, "symbols": syms, "rows": rows}
    return graph, prof.static, results
