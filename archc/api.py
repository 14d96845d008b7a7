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
