"""The Python API: `load_spec` and `compile`. The CLI is a thin layer over these."""
from __future__ import annotations

import os
from typing import Any

from archc.diagnostics import DiagnosticError
from archc.ir.expand import DEFAULT_PARAM_LIMIT
from archc.ir.graph import Graph
from archc.pipeline import Options, back, front
from archc.spec.load import LoadedSpec
from archc.spec.load import load_spec as _load_spec


def load_spec(path: str | os.PathLike, *, defer_node_errors: bool = False) -> LoadedSpec:
    """Read and validate a spec and its imports. Raises `DiagnosticError` listing every problem.

    With `defer_node_errors`, problems inside single nodes are kept in `.deferred` instead, so that
    elaboration (`archc.infer`) reports them together with everything else it finds."""
    try:
        return _load_spec(path, defer_node_errors=defer_node_errors)
    except DiagnosticError as e:
        if not getattr(e, "sources", None):
            try:
                e.sources = {os.path.relpath(path): open(path, encoding="utf-8", errors="replace").read()}  # type: ignore[attr-defined]
            except OSError:
                e.sources = {}  # type: ignore[attr-defined]
        raise


def infer(spec_or_path: str | os.PathLike | LoadedSpec, overrides: dict[str, Any] | None = None,
          variant: str | None = None, param_limit: int | None = None) -> Graph:
    """The typed graph IR of a spec (torch-free; allocates nothing, so no parameter limit by default)."""
    spec = spec_or_path if isinstance(spec_or_path, LoadedSpec) else load_spec(spec_or_path, defer_node_errors=True)
    return front(spec, Options(dict(overrides or {}), variant, param_limit))[1]


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
    graph = infer(spec_or_path, overrides, variant, None if meta else param_limit)
    gm, diags = back(graph, device=device, verify=verify)
    if diags:
        raise DiagnosticError(diags)
    if weights is not None:
        if meta:
            raise ValueError("weights= needs a real device, not 'meta'")
        from archc.parity.weights import load_weights

        load_weights(gm, graph, weights)
    return gm
