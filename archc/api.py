"""The Python API: every command as a function (`check`, `lint`, `profile`, `graph`, `compare`,
`build`), and `load_spec`, `infer` and `compile`. The CLI is a thin layer over the same stages, and
all of them are `archc.pipeline.run` up to a stage.

A spec is a path, a `LoadedSpec`, or a mapping (a spec written as a Python dict: it is dumped to
YAML and read as the text of `<mapping>.yaml`, so its diagnostics point at lines of that text).
Every problem with a spec, a missing file included, raises `DiagnosticError`, whose `str()` is the
rendered diagnostics with their locations and source excerpts. The commands return a `Report`
(`archc.report.display`): `.doc` is the command's `--json` document, `str()` its text, and a
notebook displays it as the command's table; `graph` returns a `Picture` (SVG inline).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from archc.diagnostics import Diagnostic, Span
from archc.errors import DiagnosticError, UsageError
from archc.ir.graph import Graph
from archc.pipeline import Options, Unit, run
from archc.session import DEFAULT_PARAM_LIMIT, Session
from archc.spec.load import LoadedSpec
from archc.spec.load import load_spec as _load_spec

MAPPING_NAME = "<mapping>.yaml"


def _unit(spec: Any, options: Options | None = None, session: Session | None = None) -> Unit:
    """A unit for SPEC (a path, a LoadedSpec or a mapping), nothing run yet but what SPEC already is."""
    if isinstance(spec, Unit):
        return spec
    if isinstance(spec, LoadedSpec):
        return run(spec, options, until="validate", session=session)
    if isinstance(spec, Mapping):
        import yaml

        text = yaml.safe_dump(dict(spec), sort_keys=False, allow_unicode=True)
        return run(MAPPING_NAME, options, until="validate", text=text, session=session)
    if not isinstance(spec, (str, os.PathLike)):
        raise DiagnosticError([Diagnostic("ARC007", f"a spec is a path, a LoadedSpec or a mapping, not {type(spec).__name__}",
                                          Span("<argument>", 1, 1), hint="pass the path of a .yaml spec, or a dict")])
    p = Path(spec)
    if p.is_dir() or not (p.exists() or p.is_symlink()):   # special files: the loader says what they are
        why = "it is a folder" if p.is_dir() else "no such file"
        raise DiagnosticError([Diagnostic("ARC007", f"cannot read `{p}`: {why}", Span(str(p), 1, 1),
                                          hint="check the path (relative paths start from the working directory)")])
    return run(p, options, until="validate", session=session)


def _upto(spec: Any, options: Options | None, until: str, session: Session | None = None, **requests: Any) -> Unit:
    u = _unit(spec, options, session)
    return run(u, options, until=until, **requests)


def load_spec(path: str | os.PathLike, *, session: Session | None = None) -> LoadedSpec:
    """Read and validate a spec and its imports. Raises `DiagnosticError` listing every problem.

    With a `session`, problems inside single nodes are reported into it instead, so that
    elaboration (`archc.infer`) reports them together with everything else it finds."""
    if isinstance(path, Mapping) or Path(path).is_dir() or not Path(path).exists():
        return _unit(path, session=session).spec
    return _load_spec(path, session=session)


def infer(spec_or_path: str | os.PathLike | LoadedSpec, overrides: dict[str, Any] | None = None,
          variant: str | None = None, param_limit: int | None = None) -> Graph:
    """The typed graph IR of a spec (torch-free; allocates nothing, so no parameter limit by default)."""
    return _upto(spec_or_path, Options(dict(overrides or {}), variant, param_limit), "check").graph


def compile(spec_or_path: str | os.PathLike | LoadedSpec | Mapping, overrides: dict[str, Any] | None = None,
            device: Any = None, *, variant: str | None = None, verify: bool = True,
            param_limit: int | None = DEFAULT_PARAM_LIMIT, weights: str | os.PathLike | None = None,
            mode: str = "eval") -> Any:
    """Compile a spec to a verified `torch.fx.GraphModule`.

    `mode` is "eval" (the default: batch norm uses its running statistics, dropout is off, as for
    inference and export) or "train" (as torchvision and timm return their models: the mode a
    training loop expects). `overrides` sets params and symbol sizes (like `--set`);
    `device="meta"` builds without allocating weights (and without the parameter limit). `weights`
    loads a safetensors or torch state_dict file: the spec's keys, a reference's keys mapped by
    `reference.weights`, or either saved from a `DistributedDataParallel` or `torch.compile`
    wrapper (the `module.` / `_orig_mod.` prefix). Raises `DiagnosticError`.

    The module takes the spec's inputs by position or by name (`m(input_ids=ids, ...)`); with one
    output it returns the tensor, with several a NamedTuple named after the model
    (`BertBaseOutputs(last_hidden_state, pooler_output)`, archc.codegen.outputs).
    """
    if mode not in ("eval", "train"):
        raise UsageError(f"mode must be 'eval' or 'train', got {mode!r}")
    meta = device is not None and str(device) == "meta"
    if weights is not None and meta:
        raise UsageError("weights= needs a real device, not 'meta'")
    opts = Options(dict(overrides or {}), variant, None if meta else param_limit, device=device, verify=verify)
    unit = _upto(spec_or_path, opts, "verify")
    if weights is not None:
        from archc.parity.weights import load_weights

        load_weights(unit.module, unit.graph, weights)
    return unit.module.train(mode == "train")


def build(spec: str | os.PathLike, outdir: str, *, emit: list[str] | None = None, overrides: dict[str, Any] | None = None,
          override_spans: dict[str, Any] | None = None, variant: str | None = None, dynamic: list[str] | None = None,
          opset: int = 18, dtype: str | None = None, weights: str | None = None, force: bool = False,
          cmdline: str = "", latency_runs: int = 5, progress: Any = None, memory_limit: int | None = None) -> Any:
    """`archc build`: compile, verify, and write verified artifacts and manifest.json to OUTDIR.
    `progress` is told each stage and step as it starts (archc.report.progress).

    The pipeline up to `emit` (archc.export.build.emit). Returns the `BuildResult`; verification
    failures come back as its error diagnostics (nothing is written). Raises DiagnosticError (spec
    errors), UsageError (bad arguments, an unusable output folder), MissingDependency."""
    from archc.export.build import BuildRequest, check_request, prepare
    from archc.session import CMDLINE

    if isinstance(spec, Mapping):
        raise UsageError("build needs a spec file: the manifest records the spec's path and hash")

    req = BuildRequest(str(outdir), list(emit) if emit else BuildRequest(str(outdir)).emit, dynamic, opset, dtype,
                       weights, force, latency_runs, memory_limit=memory_limit)
    check_request(req)
    # out of place: the search for a first diverging node reads every node's output
    session = Session(Options(dict(overrides or {}), variant, DEFAULT_PARAM_LIMIT, dict(override_spans or {}), inplace=False),
                      {CMDLINE: cmdline}, progress=progress)
    unit = _upto(spec, None, "check", session=session, emit=req)
    prepare(unit)                       # a bad --dynamic fails before anything is lowered
    return run(unit, until="emit").built


def run_profile(spec_or_path: str | os.PathLike | LoadedSpec, options: Options, request: Any) -> tuple[Graph, Any, dict]:
    """`archc profile`'s work: the pipeline up to `measure` for the spec, then once per
    `--batch-size` and `--sweep` value (each a spec elaborated with that size). Returns (graph,
    static profile, results), results holding `measured`, `throughput` and `sweep`
    (archc.report.profile). `profile` is the same as a `Report`."""
    import dataclasses

    from archc.profile.static import batch_symbol

    req = request
    unit = _upto(spec_or_path, options, "measure", measure=req)
    graph, prof = unit.graph, unit.measured
    results: dict[str, Any] = {"measured": prof.measured, "throughput": [], "sweep": None}

    def at(extra: dict[str, Any], phase: str) -> Any:
        """The measure stage on the spec elaborated with EXTRA sizes (whole-graph timing only)."""
        o = Options({**options.overrides, **extra}, options.variant, options.param_limit, options.override_spans)
        cb = req.progress
        sub = dataclasses.replace(req, per_node=False, progress=(lambda ph, d, t: cb(phase, d, t)) if cb else None)
        return _upto(spec_or_path, o, "measure", measure=sub).measured

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


# ---- the commands as functions, returning what a notebook can display -------------------------

def check(spec: Any, overrides: dict[str, Any] | None = None, *, variant: str | None = None,
          param_limit: int | None = None, verify_all: bool = False) -> Any:
    """`archc check`: elaborate, build on the meta device and verify every node's shape at each
    verified size (past 10,000 nodes only with `verify_all`: warning ARC607). Returns a `Report`
    (`.doc` as `archc check --json`, `.graph`, `.module`, `.diagnostics`)."""
    from archc import session as S
    from archc.report.display import Report
    from archc.report.summary import check_summary, render_check

    opts = Options(dict(overrides or {}), variant, param_limit, device="meta",
                   verify_max_nodes=None if verify_all else S.VERIFY_MAX_NODES)
    unit = _upto(spec, opts, "verify")
    doc = check_summary(unit, str(unit.path))
    return Report("check", doc, render_check, graph=unit.graph, module=unit.module, diagnostics=list(unit.session.diagnostics))


def lint(*paths: str | os.PathLike, select: Iterable[str] | None = None, ignore: Iterable[str] = (),
         fail_on: str | None = None) -> Any:
    """`archc lint PATHS...`: the lint rules over spec files and folders. Returns a `Report`
    (`.doc` as `archc lint --format json`, `.ok` false when a finding reaches `fail_on`,
    `.diagnostics`)."""
    import json

    from archc.lint import RULES, load_rules
    from archc.lint_driver import LintOptions, lint_paths
    from archc.report.display import Report
    from archc.report.lint_formats import render

    if not paths:
        raise UsageError("lint: give at least one file or folder")
    res = lint_paths([os.fspath(p) for p in paths], LintOptions(select=tuple(select) if select else None,
                                                               ignore=tuple(ignore), fail_on=fail_on, jobs=1))
    load_rules()
    rules = RULES
    doc = json.loads(render("json", res, rules))

    def show(con: Any, _doc: dict) -> None:
        from rich.text import Text

        con.print(Text(render("text", res, rules).rstrip("\n")))

    return Report("lint", doc, show, ok=not res.failed, diagnostics=res.diagnostics, run=res)


def profile(spec: Any, overrides: dict[str, Any] | None = None, *, device: str = "meta", dtype: str | None = None,
            variant: str | None = None, warmup: int = 3, repeats: int = 20, batch_sizes: Iterable[int] = (),
            sweep: tuple[str, list[int]] | None = None, top: int = 20, depth: int = 1) -> Any:
    """`archc profile`: parameters, MACs, FLOPs and memory (static, torch-free on `device="meta"`),
    and latency and peak memory on a measuring device (cpu, cuda, mps). Returns a `Report`
    (`.doc` as `archc profile --json`; `.ok` false when a spec `budget:` is exceeded)."""
    from archc.profile import budget as B
    from archc.profile.run import Request
    from archc.report.display import Report
    from archc.report.profile import build_doc, render

    req = Request(device=device, dtype=dtype, warmup=warmup, repeats=repeats, batch_sizes=list(batch_sizes), sweep=sweep)
    opts = Options(dict(overrides or {}), variant, DEFAULT_PARAM_LIMIT if req.measuring else None)
    unit = _unit(spec, opts)
    loaded = unit.spec
    graph, static, results = run_profile(unit, opts, req)
    try:
        limits = B.collect(loaded.model.budget, lambda n: loaded.main.value_span(("budget", n)), {})
    except ValueError as e:
        raise UsageError(f"budget: {e}") from None
    checks, diags = B.check(limits, static, results.get("measured"))
    doc = build_doc(str(unit.path), static, results, checks, device, dtype)
    return Report("profile", doc, lambda con, d: render(con, d, top=top, depth=depth), ok=bool(doc["passed"]),
                  graph=graph, diagnostics=diags)


def graph(spec: Any, overrides: dict[str, Any] | None = None, *, format: str = "svg", expand: Iterable[str] = (),
          depth: int | None = None, annotate: str = "none", variant: str | None = None, rankdir: str = "TB",
          legend: bool = True) -> Any:
    """`archc graph`: the spec's picture (`depth=None`: the command's default picture). Returns a
    `Picture` (`.data`, `.format`, `.save(path)`), shown inline in a notebook (SVG and PNG need
    Graphviz's `dot`; "dot" and "mermaid" are text)."""
    from archc.draw.render import FORMATS, render
    from archc.report.display import Picture

    if format not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    g = _upto(spec, Options(dict(overrides or {}), variant, None), "check").graph
    return Picture(render(g, format, list(expand), depth, annotate, rankdir=rankdir, legend=legend), format)


def compare(spec: Any, against: str | None = None, overrides: dict[str, Any] | None = None, *,
            variant: str | None = None, seeds: int = 3, seed: int = 0, rtol: float | None = None,
            atol: float | None = None, dtype: str = "float64", train: bool = True) -> Any:
    """`archc compare`: the spec against its reference implementation on randomized weights
    (parameters, outputs and gradients at several seeds). Returns a `Report` (`.doc` as
    `archc compare --json`; `.ok` is `doc["passed"]`)."""
    from archc.parity.compare import compare_graph
    from archc.report.compare import render_compare
    from archc.report.display import Report

    unit = _upto(spec, Options(dict(overrides or {}), variant), "check")
    doc = compare_graph(unit.graph, against, seeds=seeds, seed=seed, rtol=rtol, atol=atol, dtype=dtype, train=train,
                        span_of=unit.spec.main.value_span)
    doc["spec"] = str(unit.path)
    return Report("compare", doc, render_compare, ok=bool(doc["passed"]))
