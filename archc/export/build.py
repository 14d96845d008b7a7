"""The build: compile, export every requested format, verify each artifact in its own runtime,
and only then move the artifacts and the manifest into the output folder."""
from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass, field
from typing import Any

from archc.diagnostics import Diagnostic, DiagnosticError, Span, has_errors
from archc.export import atomic
from archc.export.dynamic import SymbolPlan, envs as make_envs, plan as make_plan
from archc.export.verify import TOLERANCES, Verification, make_inputs, verify_artifact

FORMATS = ("pt2", "onnx", "torchscript", "source", "state_dict")
DEFAULT_EMIT = ("pt2", "onnx", "torchscript")
DTYPES = ("float32", "float16", "bfloat16")
EXTRA = "pip install 'archc[export]'"
_NEEDS = {"onnx": ("onnx", "onnxscript", "onnxruntime"), "source": ("safetensors",), "state_dict": ("safetensors",)}
EXPORTERS = {
    "pt2": "torch.export.export + torch.export.save",
    "onnx": "torch.onnx.export(dynamo=True) of the torch.export program",
    "torchscript": "torch.jit.script",
    "source": "archc.codegen.source + safetensors",
    "state_dict": "safetensors.torch.save_file",
}


class MissingExtra(Exception):
    """An optional package a requested format needs is not installed (exit 3)."""


class UsageProblem(Exception):
    """Bad arguments (exit 2)."""


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
        return list(DEFAULT_EMIT)
    items = [e.strip() for e in emit.split(",") if e.strip()]
    if "all" in items:
        return list(FORMATS)
    bad = [e for e in items if e not in FORMATS]
    if bad:
        raise UsageProblem(f"--emit: unknown format {', '.join(bad)}; choose from {', '.join(FORMATS)} or all")
    return [f for f in FORMATS if f in items]


def require(formats: list[str]) -> None:
    missing = sorted({m for f in formats for m in _NEEDS.get(f, ()) if importlib.util.find_spec(m) is None})
    if missing:
        raise MissingExtra(f"--emit {','.join(formats)} needs {', '.join(missing)}, which is not installed: {EXTRA}")


def build(spec: str, outdir: str, *, emit: list[str] | None = None, overrides: dict[str, Any] | None = None,
          override_spans: dict[str, Span] | None = None, variant: str | None = None, dynamic: list[str] | None = None,
          opset: int = 18, dtype: str = "float32", weights: str | None = None, force: bool = False,
          cmdline: str = "", latency_runs: int = 5) -> BuildResult:
    """Build and verify. Raises DiagnosticError (spec errors), UsageProblem, MissingExtra,
    atomic.OutDirError; verification failures come back as error diagnostics (nothing written)."""
    from archc import __version__
    from archc.export.manifest import SCHEMA_VERSION, sha256_file, signature, versions
    from archc.pipeline import CMDLINE, DEFAULT_PARAM_LIMIT, Options, Session, run

    formats = list(emit or DEFAULT_EMIT)
    if dtype not in DTYPES:
        raise UsageProblem(f"--dtype must be one of {', '.join(DTYPES)}")
    if opset < 18:
        raise UsageProblem("--opset must be 18 or later (the dynamo ONNX exporter's minimum)")
    require(formats)
    atomic.check_outdir(outdir, force)
    if weights is not None and not os.path.isfile(weights):
        raise UsageProblem(f"--weights: no such file: {weights}")

    # out of place: the search for a first diverging node reads every node's output
    session = Session(Options(dict(overrides or {}), variant, DEFAULT_PARAM_LIMIT, dict(override_spans or {}), inplace=False),
                      {CMDLINE: cmdline})
    unit = run(spec, session=session, until="check")
    graph = unit.graph
    try:
        if dynamic is not None:
            unknown = [d for d in dynamic if d not in graph.symbols]
            if unknown:
                raise UsageProblem(f"--dynamic: {', '.join(unknown)} is not a symbol of this spec "
                                   f"(symbols: {', '.join(graph.symbols) or 'none'})")
        plans, diags = make_plan(graph, dynamic)
        if has_errors(diags):
            session.fail(diags)
        import torch

        gm = run(unit, until="verify").module
        if weights is not None:
            _load_weights(gm, graph, weights)
        if dtype != "float32":
            gm = _cast(gm, dtype)
        from archc.export.pt2 import tag_nodes

        tag_nodes(gm)
    except DiagnosticError as e:
        raise e.with_sources(session.sources)

    result = BuildResult(manifest={}, diagnostics=list(diags), sources=session.sources)
    arts: dict[str, dict[str, Any]] = {}
    spec_hash = sha256_file(spec)
    with atomic.Staging(outdir) as stage:
        try:
            ep = None
            t_ep = 0.0
            if "pt2" in formats or "onnx" in formats:
                from archc.export import pt2

                trace = make_inputs(graph, {n: p.export_size for n, p in plans.items()}, dtype)
                t0 = time.perf_counter()
                ep, pdiags = pt2.export_program(gm, graph, plans, tuple(trace.values()))
                t_ep = time.perf_counter() - t0
                result.diagnostics += pdiags
            envs = make_envs(graph, plans)
            written: list[str] = []
            for fmt in formats:
                entry, files = _emit_one(fmt, gm, graph, plans, ep, t_ep, stage, opset, dtype, spec, spec_hash,
                                         __version__, envs, latency_runs, result)
                arts[fmt] = entry
                written += [f for f in files if f not in written]
        except DiagnosticError as e:
            result.diagnostics += e.diagnostics
            written = []
        atol, rtol = TOLERANCES[dtype]
        ins, outs = signature(graph, plans)
        result.manifest = {
            "schema_version": SCHEMA_VERSION,
            "archc": __version__,
            "versions": versions(),
            "spec": {"path": spec, "sha256": spec_hash, "name": graph.name, "variant": graph.variant},
            "overrides": dict(overrides or {}),
            "params": graph.params,
            "dtype": dtype,
            "opset": opset if "onnx" in formats else None,
            "parameter_count": graph.param_count,
            "symbols": {n: p.to_json() for n, p in plans.items()},
            "inputs": ins,
            "outputs": outs,
            "tolerance": {"atol": atol, "rtol": rtol},
            "verification_sizes": make_envs(graph, plans),
            "latency": {"runs": latency_runs, "statistic": "median", "threads": 1, "device": "cpu"},
            "artifacts": arts,
            "diagnostics": [d.to_json() for d in result.diagnostics],
            "ok": result.ok,
            "output_dir": outdir,
        }
        if result.ok:
            import json

            with open(stage.file(atomic.MANIFEST), "w", encoding="utf-8") as f:
                json.dump(result.manifest, f, indent=2, default=str)
                f.write("\n")
            stage.commit(written + [atomic.MANIFEST])
    _ = torch
    return result


def _emit_one(fmt: str, gm: Any, graph: Any, plans: dict[str, SymbolPlan], ep: Any, t_ep: float, stage: atomic.Staging,
              opset: int, dtype: str, spec: str, spec_hash: str, version: str, envs: list, latency_runs: int,
              result: BuildResult) -> tuple[dict[str, Any], list[str]]:
    entry: dict[str, Any] = {"exporter": EXPORTERS[fmt], "notes": []}
    files: list[str] = []
    t0 = time.perf_counter()
    if fmt == "pt2":
        from archc.export import pt2

        pt2.save(ep, stage.file("model.pt2"))
        files = ["model.pt2"]
        entry["export_seconds"] = t_ep + (time.perf_counter() - t0)
        runner_fn = lambda: pt2.Pt2Runner(stage.file("model.pt2"))  # noqa: E731
    elif fmt == "onnx":
        from archc.export import onnx as onnx_fmt

        info = onnx_fmt.export(ep, graph, stage.file("model.onnx"), opset)
        entry.update(info)
        files = ["model.onnx"] + (["model.onnx.data"] if info.get("external_data") else [])
        entry["export_seconds"] = t_ep + (time.perf_counter() - t0)
        entry["notes"].append("export_seconds includes the torch.export trace it translates")
        onnx_fmt.check(stage.file("model.onnx"))
        entry["checker"] = "onnx.checker.check_model: passed"
        runner_fn = lambda: onnx_fmt.OnnxRunner(stage.file("model.onnx"), graph)  # noqa: E731
    elif fmt == "torchscript":
        from archc.export import torchscript as ts

        trace = make_inputs(graph, {n: p.export_size for n, p in plans.items()}, dtype)
        info = ts.export(gm, tuple(trace.values()), stage.file("model.torchscript.pt"))
        entry["exporter"] = info["exporter"]
        entry["fallback_reason"] = info["fallback_reason"]
        entry["deprecated_upstream"] = True
        entry["notes"].append(ts.DEPRECATION_NOTE)
        if ts.DEPRECATION_NOTE not in result.notes:
            result.notes.append(ts.DEPRECATION_NOTE)
        d = ts.fallback_diagnostic(info)
        if d:
            result.diagnostics.append(d)
        files = ["model.torchscript.pt"]
        entry["export_seconds"] = time.perf_counter() - t0

        def runner_fn():
            r = ts.TorchScriptRunner(stage.file("model.torchscript.pt"))
            r.gm = gm
            return r
    elif fmt in ("source", "state_dict"):
        from archc.export import state_dict as sdf

        if not os.path.exists(stage.file("model.safetensors")):
            sdf.save(gm, graph, stage.file("model.safetensors"), {"archc.spec": spec, "archc.spec_sha256": spec_hash, "archc.dtype": dtype})
        if fmt == "state_dict":
            files = ["model.safetensors"]
            entry["export_seconds"] = time.perf_counter() - t0
            runner_fn = lambda: sdf.StateDictRunner(stage.file("model.safetensors"), gm, graph)  # noqa: E731
        else:
            from archc.codegen.source import SourceError, generate
            from archc.export.source import SourceRunner

            try:
                text = generate(gm, graph, spec_path=spec, spec_sha256=spec_hash, dtype=dtype, archc_version=version)
            except SourceError as e:
                raise DiagnosticError([Diagnostic("ARC510", f"source: {e}", None)]) from None
            with open(stage.file("model.py"), "w", encoding="utf-8") as f:
                f.write(text)
            files = ["model.py", "model.safetensors"]
            entry["export_seconds"] = time.perf_counter() - t0
            runner_fn = lambda: SourceRunner(stage.file("model.py"), stage.file("model.safetensors"), gm.archc_fx_to_path)  # noqa: E731
    else:  # pragma: no cover
        raise ValueError(fmt)
    entry["files"] = files
    entry["size_bytes"] = sum(os.path.getsize(stage.file(f)) for f in files)
    v = _verify(fmt, runner_fn, gm, graph, envs, dtype, latency_runs)
    if fmt == "source" and v.status == "verified" and dtype == "float32":
        entry["bitwise_equal"] = _bitwise(runner_fn, gm, graph, envs)
        if not entry["bitwise_equal"]:
            entry["notes"].append("outputs within tolerance but not bitwise equal to the compiled module")
    entry.update(v.to_json())
    result.diagnostics += v.diagnostics
    return entry, files


def _verify(fmt: str, runner_fn: Any, gm: Any, graph: Any, envs: list, dtype: str, latency_runs: int) -> Verification:
    from archc.export.verify import UnsupportedDtype

    try:
        runner = runner_fn()
    except UnsupportedDtype as e:
        v = Verification("unverified", reason=str(e))
        v.diagnostics.append(Diagnostic("ARC514", f"{fmt}: {e}; the artifact is written but marked `unverified` in the manifest",
                                        None, severity="warning", hint="verify it on a runtime that has these kernels"))
        return v
    except Exception as e:  # noqa: BLE001 - the runtime's refusal, as a diagnostic
        v = Verification("failed", reason=f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}")
        v.diagnostics.append(Diagnostic("ARC622", f"{fmt}: the artifact cannot be loaded by its runtime: {v.reason}", None))
        return v
    return verify_artifact(fmt, runner, gm, graph, envs, dtype, latency_runs)


def _bitwise(runner_fn: Any, gm: Any, graph: Any, envs: list) -> bool:
    import torch

    from archc.export.verify import flatten

    r = runner_fn()
    for env in envs:
        ins = make_inputs(graph, env, "float32")
        with torch.no_grad():
            a, b = flatten(gm(*ins.values())), r.run(ins)
        if not all(torch.equal(x, y) for x, y in zip(a, b)):
            return False
    return True


def _cast(gm: Any, dtype: str) -> Any:
    from archc.codegen.verify import torch_dtype

    f2p, graph = gm.archc_fx_to_path, gm.archc_graph
    gm = gm.to(torch_dtype(dtype))
    gm.archc_fx_to_path, gm.archc_graph = f2p, graph
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
