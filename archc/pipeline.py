"""The compiler's stages, in order, in one place:

    load -> validate -> (imports) -> elaborate (expand + infer) -> lower -> verify

`load_spec` and `elaborate` are torch-free; `lower` and `verify` import torch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from archc.diagnostics import Diagnostic, DiagnosticError, Span
from archc.ir.expand import DEFAULT_PARAM_LIMIT, elaborate
from archc.ir.graph import Graph
from archc.spec.load import LoadedSpec, load_spec


@dataclass
class Options:
    overrides: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None
    param_limit: int | None = DEFAULT_PARAM_LIMIT
    override_spans: dict[str, Span] = field(default_factory=dict)


def front(spec: str | os.PathLike | LoadedSpec, opts: Options | None = None) -> tuple[LoadedSpec, Graph]:
    """load -> validate -> elaborate: the torch-free front and middle."""
    opts = opts or Options()
    loaded = spec if isinstance(spec, LoadedSpec) else load_spec(spec)
    try:
        graph = elaborate(loaded, opts.overrides, opts.variant, opts.param_limit, opts.override_spans)
    except DiagnosticError as e:
        e.sources = loaded.sources  # type: ignore[attr-defined]
        raise
    return loaded, graph


def back(graph: Graph, device: Any = None, verify: bool = True, dtype: Any = None,
         inplace: bool = True) -> tuple[Any, list[Diagnostic]]:
    """lower -> verify: the GraphModule and the verification's diagnostics (empty when it agrees)."""
    from archc.codegen.fx import lower
    from archc.codegen.verify import verify as run_verify

    gm = lower(graph, device=device, dtype=dtype, inplace=inplace)
    diags = run_verify(gm, graph) if verify else []
    return gm, diags
