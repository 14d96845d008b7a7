"""The build: compile, export every requested format, verify each artifact in its own runtime,
and only then move the artifacts and the manifest into the output folder."""
from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass, field
from typing import Any

from archc.diagnostics import Diagnostic, DiagnosticError, has_errors
from archc.errors import MissingDependency, UsageError
from archc.export import atomic
from archc.export.dynamic import envs as make_envs, plan as make_plan
from archc.export.registry import FORMATS, ExportContext, ExportFormat, default_emit, load_formats
from archc.export.verify import FLOOR, SEED, TOLERANCES, Verification, bitwise_equal, verify_artifact
from archc.profile.budget import check_memory

load_formats()
DEFAULT_EMIT = default_emit()
DTYPES = ("float32", "float16", "bfloat16", "float64")


# one error class per kind (archc.errors): the names the export API used before
MissingExtra = MissingDependency   # a package a requested format needs is not installed (exit 3)
UsageProblem = UsageError          # bad arguments (exit 2)


@dataclass
class BuildResult:
    manifest: dict[str, Any]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def parse_emit(emit: str | None) -> list[str]:
    if not emit:
        return list(default_emit())
    items = [e.strip() for e in emit.split(",") if e.strip()]
    if "all" in items:
        return list(FORMATS)
    bad = [e for e in items if e not in FORMATS]
    if bad:
        raise UsageProblem(f"--emit: unknown format {', '.join(bad)}; choose from {', '.join(FORMATS)} or all")
    return [f for f in FORMATS if f in items]


def require(formats: list[str]) -> None:
    """Raise MissingExtra naming every package the formats need that is not installed."""
    wanted = [FORMATS[f] for f in formats]
    missing = sorted({m for f in wanted for m in f.needs if importlib.util.find_spec(m) is None})
    if missing:
        hints = list(dict.fromkeys(f.install for f in wanted if any(m in missing for m in f.needs)))
        raise MissingExtra(f"--emit {','.join(formats)} needs {', '.join(missing)}, which is not installed: {'; '.join(hints)}")


@dataclass
class BuildRequest:
    """What the emit stage writes: the output folder, the formats and how to export them."""

    outdir: str
    emit: list[str] = field(default_factory=lambda: list(default_emit()))
    dynamic: list[str] | None = None         # symbols kept dynamic (None: every one the exporters can keep)
    opset: int = 18
    dtype: str | None = None                 # the artifacts' dtype (None: the spec's inputs' dtype)
    weights: str | None = None               # a state_dict to load before exporting
    force: bool = False
    latency_runs: int = 5
    plans: Any = None                        # set by `prepare`: the export plan of every symbol
    plan_diagnostics: list[Diagnostic] = field(default_factory=list)
    memory_limit: int | None = None          # bytes the build may allocate (None: a fraction of the machine's memory)
    lowered_dtype: str | None = None         # set by `prepare`: the dtype the module is lowered in


def check_request(req: BuildRequest) -> None:
    """The request's own mistakes, before anything is compiled: unknown formats, dtype or opset, a
    missing package, an unusable output folder, a missing weights file (UsageError, MissingExtra)."""
    unknown = [f for f in req.emit if f not in FORMATS]
    if unknown:
        raise UsageProblem(f"--emit: unknown format {', '.join(unknown)}; choose from {', '.join(FORMATS)} or all")
    if req.dtype is not None and req.dtype not in DTYPES:
        raise UsageProblem(f"--dtype must be one of {', '.join(DTYPES)}")
    if req.opset < 18:
        raise UsageProblem("--opset must be 18 or later (the dynamo ONNX exporter's minimum)")
    require(req.emit)
    atomic.check_outdir(req.outdir, req.force)
    if req.weights is not None and not os.path.isfile(req.weights):
        raise UsageProblem(f"--weights: no such file: {req.weights}")


def prepare(unit: Any) -> None:
    """The export plan of every symbol (which stay dynamic, over which range), from the elaborated
    graph: done before lowering, so a bad `--dynamic` costs nothing. Raises UsageError/DiagnosticError."""
    req, graph = unit.build, unit.graph
    if req.plans is not None:
        return
    if req.dynamic is not None:
        unknown = [d for d in req.dynamic if d not in graph.symbols]
        if unknown:
            raise UsageProblem(f"--dynamic: {', '.join(unknown)} is not a symbol of this spec "
                               f"(symbols: {', '.join(graph.symbols) or 'none'})")
    from archc.codegen.fx import input_dtype_name

    req.lowered_dtype = input_dtype_name(graph)   # the module's parameters follow the spec's inputs
    req.dtype = req.dtype or req.lowered_dtype
    req.plans, req.plan_diagnostics = make_plan(graph, req.dynamic)
    if has_errors(req.plan_diagnostics):
        unit.session.fail(req.plan_diagnostics)
    check_memory(graph, make_envs(graph, req.plans), "build", dtype=req.dtype, limit=req.memory_limit,
                 spans=unit.options.override_spans, sources=unit.session.sources)


def emit(unit: Any) -> BuildResult:
    """The emit stage: export the unit's verified module in every requested format into a staging
    folder, reload and verify each artifact on randomized weights, and commit the artifacts and
    manifest.json into the output folder only if every one verified."""
    from archc import __version__
    from archc.export.manifest import SCHEMA_VERSION, sha256_file, signature, versions

    req, graph, session = unit.build, unit.graph, unit.session
    spec = str(unit.path)
    prepare(unit)
    plans = req.plans
    gm = unit.module
    try:
        if req.weights is not None:
            _load_weights(gm, graph, req.weights)
        session.step("drawing the verification's randomized weights")
        rand, drawn = randomized(gm, graph, make_envs(graph, plans)[0])
        if req.dtype != req.lowered_dtype:
            gm, rand = _cast(gm, req.dtype), _cast(rand, req.dtype)
    except DiagnosticError as e:
        raise e.with_sources(session.sources)

    result = BuildResult(manifest={}, diagnostics=list(req.plan_diagnostics), sources=session.sources)
    arts: dict[str, dict[str, Any]] = {}
    spec_hash = sha256_file(spec)
    formats = req.emit
    with atomic.Staging(req.outdir, req.force, atomic.artifact_bytes(gm, formats)) as stage:
        ctx = ExportContext(gm, graph, plans, stage, req.opset, req.dtype, spec, spec_hash, __version__, result)
        try:
            if any(FORMATS[f].uses_program for f in formats):
                from archc.export.formats import pt2

                session.step("tracing the program (torch.export)")
                t0 = time.perf_counter()
                ctx.program, pdiags = pt2.export_program(gm, graph, plans, ctx.trace_inputs())
                ctx.program_seconds = time.perf_counter() - t0
                result.diagnostics += pdiags
            envs = make_envs(graph, plans)
            written: list[str] = []
            for name in formats:
                session.step(f"exporting {name}")
                entry, files = _emit_one(FORMATS[name], ctx, rand, envs, req.latency_runs, session.step)
                arts[name] = entry
                written += [f for f in files if f not in written]
        except DiagnosticError as e:
            result.diagnostics += e.diagnostics
            written = []
        atol, rtol = TOLERANCES[req.dtype]
        ins, outs = signature(graph, plans)
        result.manifest = {
            "schema_version": SCHEMA_VERSION,
            "archc": __version__,
            "versions": versions(),
            "spec": {"path": spec, "sha256": spec_hash, "name": graph.name, "variant": graph.variant},
            "overrides": dict(session.options.overrides),
            "params": graph.params,
            "dtype": req.dtype,
            "opset": req.opset if any(FORMATS[f].uses_opset for f in formats) else None,
            "parameter_count": graph.param_count,
            "symbols": {n: p.to_json() for n, p in plans.items()},
            "inputs": ins,
            "outputs": outs,
            "tolerance": {"atol": atol, "rtol": rtol, "judged": "max|a - b| <= atol + rtol * max|eager|", "floor": FLOOR},
            "verification_weights": {"weights": "randomized", "seed": SEED, "batch_norm_statistics": drawn.get("statistics")},
            "verification_sizes": make_envs(graph, plans),
            "latency": {"runs": req.latency_runs, "statistic": "median", "threads": 1, "device": "cpu"},
            "artifacts": arts,
            "diagnostics": [d.to_json() for d in result.diagnostics],
            "ok": result.ok,
            "output_dir": req.outdir,
        }
        if result.ok:
            import json

            with open(stage.file(atomic.MANIFEST), "w", encoding="utf-8") as f:
                json.dump(result.manifest, f, indent=2, default=str)
                f.write("\n")
            stage.commit(written + [atomic.MANIFEST])
    return result


def randomized(gm: Any, graph: Any, env: dict) -> tuple[Any, dict]:
    """A copy of the module with the verification's randomized weights (`archc.codegen.randomize`,
    seed SEED; batch-norm statistics calibrated on an input at `env`), in eval mode, and what
    `randomize_` reports it drew."""
    import copy

    import torch

    from archc.codegen.nodemap import attach, node_map
    from archc.codegen.randomize import randomize_
    from archc.export.verify import make_inputs

    rand = copy.deepcopy(gm)
    attach(rand, node_map(gm))
    rand.archc_graph = graph
    calib = make_inputs(graph, env, "float32", seed=SEED + 2)
    with torch.no_grad():
        drawn = randomize_(rand, SEED, calibrate=lambda: rand(*calib.values())) or {}
    rand.eval()
    return rand, drawn


class _TwinStage:
    """The staging folder's `.verify/` subfolder: where a twin artifact is written (never committed;
    the staging folder is removed after the build)."""

    def __init__(self, stage: Any):
        self.path = os.path.join(stage.path, ".verify")
        os.makedirs(self.path, exist_ok=True)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)


def _emit_one(fmt: ExportFormat, ctx: ExportContext, rand: Any, envs: list, latency_runs: int,
              step: Any = lambda what: None) -> tuple[dict[str, Any], list[str]]:
    """Export one format into the staging folder, reload it, check its weights are the module's,
    and verify it on the randomized weights (swapped in, or a twin): (manifest entry, files)."""
    entry: dict[str, Any] = {"exporter": fmt.exporter, "notes": []}
    files = list(fmt.export(ctx, entry))
    entry["files"] = files
    entry["size_bytes"] = sum(os.path.getsize(ctx.file(f)) for f in files)
    step(f"verifying {fmt.name} at {len(envs)} size{'s' if len(envs) != 1 else ''}")
    v, runner = _verification_runner(fmt, ctx, rand)
    if runner is not None:
        v = verify_artifact(fmt.name, runner, rand, ctx.graph, envs, ctx.dtype, latency_runs, weights=v.weights)
        if fmt.bitwise and v.status == "verified" and ctx.dtype == "float32":
            entry["bitwise_equal"] = bitwise_equal(runner, rand, ctx.graph, envs)
            if not entry["bitwise_equal"]:
                entry["notes"].append("outputs within tolerance but not bitwise equal to the compiled module")
    entry.update(v.to_json())
    ctx.result.diagnostics += v.diagnostics
    return entry, files


def _verification_runner(fmt: ExportFormat, ctx: ExportContext, rand: Any) -> tuple[Verification, Any]:
    """The artifact reloaded with the randomized weights: (a Verification holding the weights'
    description, or the failure; the runner or None). The shipped weights are first checked
    bitwise against the module's; then they are swapped for `rand`'s where the runtime allows,
    else a twin exported from `rand` into the staging folder is loaded."""
    import dataclasses

    from archc.export.verify import weights_differ

    info = {"weights": "randomized", "seed": SEED, "method": "swapped"}
    rctx = dataclasses.replace(ctx, gm=rand)  # the runners that replay the eager module replay this one
    runner, v = _load(fmt.name, lambda: fmt.load(rctx), info)
    if runner is None:
        return v, None
    bad = weights_differ(runner.weights(), ctx.gm.state_dict())
    if bad:
        v = Verification("failed", reason=f"the artifact's weights differ from the module's: {', '.join(bad[:3])}", weights=info)
        v.diagnostics.append(Diagnostic("ARC621", f"{fmt.name}: the artifact's tensors {', '.join(bad[:3])} differ from the "
                                        f"compiled module's ({len(bad)} in all)", None,
                                        hint="the exporter stored other weights than the spec's module holds"))
        return v, None
    try:
        swapped = runner.swap({**dict(rand.named_buffers()), **rand.state_dict()})  # non-persistent buffers too (a traced artifact keeps them)
    except Exception as e:  # noqa: BLE001 - reported
        v = Verification("failed", reason=f"{type(e).__name__}: {_first_line(e)}", weights=info)
        v.diagnostics.append(Diagnostic("ARC622", f"{fmt.name}: the randomized weights cannot be loaded into the artifact: {v.reason}", None))
        return v, None
    if swapped:
        return v, runner
    info["method"] = "twin"
    elapsed = time.perf_counter()
    tctx = dataclasses.replace(ctx, gm=rand, stage=_TwinStage(ctx.stage), result=BuildResult(manifest={}))
    try:
        if ctx.program is not None:
            from archc.export.formats import pt2

            tctx.program = pt2.with_weights(ctx.program, rand.state_dict())
        fmt.export(tctx, {"exporter": fmt.exporter, "notes": []})
    except DiagnosticError as e:
        v = Verification("failed", reason=f"the randomized twin cannot be exported: {e.diagnostics[0].message}", weights=info)
        v.diagnostics.append(Diagnostic("ARC622", f"{fmt.name}: {v.reason}", None))
        return v, None
    runner, v = _load(fmt.name, lambda: fmt.load(tctx), info)
    info["twin_seconds"] = round(time.perf_counter() - elapsed, 3)
    return v, runner


def _load(fmt: str, runner_fn: Any, info: dict) -> tuple[Any, Verification]:
    from archc.export.verify import UnsupportedDtype

    try:
        return runner_fn(), Verification("verified", weights=info)
    except UnsupportedDtype as e:
        v = Verification("unverified", reason=str(e), weights=info)
        v.diagnostics.append(Diagnostic("ARC514", f"{fmt}: {e}; the artifact is written but marked `unverified` in the manifest",
                                        None, severity="warning", hint="verify it on a runtime that has these kernels"))
        return None, v
    except Exception as e:  # noqa: BLE001 - the runtime's refusal, as a diagnostic
        v = Verification("failed", reason=f"{type(e).__name__}: {_first_line(e)}", weights=info)
        v.diagnostics.append(Diagnostic("ARC622", f"{fmt}: the artifact cannot be loaded by its runtime: {v.reason}", None))
        return None, v


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0][:300] if s else ""


def _cast(gm: Any, dtype: str) -> Any:
    from archc.codegen.nodemap import attach, node_map
    from archc.codegen.verify import torch_dtype

    nodes, graph = node_map(gm), gm.archc_graph
    gm = gm.to(torch_dtype(dtype))
    attach(gm, nodes)
    gm.archc_graph = graph
    return gm


def _load_weights(gm: Any, graph: Any, path: str) -> None:
    import torch

    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        sd = load_file(path)
    else:
        sd = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise DiagnosticError([Diagnostic("ARC603", f"--weights {path}: not a state_dict", None)])
    tied = {t.param for t in graph.ties}
    own = gm.state_dict()
    missing = sorted(k for k in own if k not in sd and k not in tied)
    extra = sorted(k for k in sd if k not in own)
    shapes = sorted(k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape))
    if missing or extra or shapes:
        raise DiagnosticError([Diagnostic("ARC603", f"--weights {path} does not match the spec's module: missing {missing[:5]}, "
                                          f"unexpected {extra[:5]}, different shapes {shapes[:5]}", None,
                                          hint="archc compare maps reference weights onto a spec")])
    gm.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=False)
