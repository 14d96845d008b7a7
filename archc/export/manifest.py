"""manifest.json: what was built, from what, with what, and how each artifact verified.

Schema (version 1), also what `archc build --json` prints:

    schema_version, archc, versions {python, torch, onnx, onnxscript, onnxruntime, safetensors},
    spec {path, sha256, name, variant}, overrides, params (resolved), dtype, opset,
    parameter_count, symbols {NAME: {dynamic, example, range [lo, hi|null], step, export_size,
    verify_sizes, note}}, inputs / outputs {NAME: {shape [dims as text or ints], dtype,
    dynamic_axes {axis: symbol}}}, tolerance {atol, rtol, judged, floor}, verification_weights
    {weights: "randomized", seed}, verification_sizes [{SYMBOL: size}],
    artifacts {FORMAT: {files, exporter, size_bytes, export_seconds, status, reason, max_abs_diff,
    rel_diff, verification {weights: "randomized", seed, method: "swapped" | "twin", twin_seconds,
    atol, rtol, floor}, sizes [{sizes, max_abs_diff, magnitude (max |eager|), rel_diff, ok}],
    latency_ms, notes, ...}}, diagnostics [...], ok

Verification runs on randomized weights (archc.export.verify); the shipped artifacts hold the
spec's (or --weights') weights, checked bitwise against the module's.
"""
from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from typing import Any

from archc.ir.dims import dim_str, free_symbols
from archc.ir.graph import Graph

SCHEMA_VERSION = 1


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """Python's version, torch's and those of the packages the registered formats need."""
    from archc.export.registry import load_formats

    needed = dict.fromkeys(["torch"] + [m for f in load_formats().values() for m in f.needs])
    return {"python": platform.python_version(), **{d: version(d) for d in needed}}


def signature(graph: Graph, plans: dict) -> tuple[dict, dict]:
    def sig(shape, dtype):
        dims = [d if isinstance(d, int) else dim_str(d) for d in shape]
        dyn = {}
        for ax, d in enumerate(shape):
            fs = free_symbols(d)
            if fs and all(plans.get(s) is not None and plans[s].dynamic for s in fs):
                dyn[ax] = dim_str(d)
        return {"shape": dims, "dtype": dtype, "dynamic_axes": dyn}

    ins = {k: sig(i.type.shape, i.type.dtype) for k, i in graph.inputs.items()}
    outs = {}
    for k, o in graph.outputs.items():
        t = graph.type_of(o.ref)
        outs[k] = {**sig(t.shape, t.dtype), "kind": o.kind}
    return ins, outs
