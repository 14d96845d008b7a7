"""Verification: propagate meta tensors through the GraphModule and require, at every node, the
shape that static inference predicted. A disagreement is a compiler bug (ARC602).

`verify_all_sizes` runs the one compiled module at every verification environment the export plan
chooses (`archc.ir.sizes.envs`, the export build's: the example, then each dynamic symbol at a second valid size),
so a size the lowering baked in at the example cannot pass."""
from __future__ import annotations

from typing import Any

from archc.codegen.nodemap import node_map
from archc.diagnostics import Diagnostic
from archc.ir.dims import evaluate, shape_str
from archc.ir.graph import Graph

_TORCH_DTYPES = {
    "float32": "float32", "float16": "float16", "bfloat16": "bfloat16", "float64": "float64",
    "int64": "int64", "int32": "int32", "bool": "bool",
}


def torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, _TORCH_DTYPES[name])


def example_inputs(graph: Graph, env: dict[str, int] | None = None, device: Any = "cpu", seed: int = 0) -> dict[str, Any]:
    """Deterministic example inputs at the symbols' example sizes (or `env`)."""
    import torch

    env = graph.example_env if env is None else env
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, inp in graph.inputs.items():
        shape = tuple(evaluate(d, env) for d in inp.type.shape)
        dt = torch_dtype(inp.type.dtype)
        if device == "meta":
            out[name] = torch.empty(shape, dtype=dt, device="meta")
        elif dt.is_floating_point:
            out[name] = torch.randn(shape, generator=gen).to(dt).to(device)
        elif dt == torch.bool:
            out[name] = (torch.rand(shape, generator=gen) > 0.5).to(device)
        else:
            lo, hi = inp.range if inp.range is not None else (0, 2)
            out[name] = torch.randint(lo, hi, shape, generator=gen, dtype=dt).to(device)
    return out


def verification_envs(graph: Graph) -> list[dict[str, int]]:
    """The sizes verification runs at: the export plan's (the example, then every dynamic symbol at
    a second size satisfying the spec's constraints)."""
    from archc.ir import sizes

    plans, _ = sizes.plan(graph)
    return sizes.envs(graph, plans)


def verify_all_sizes(gm: Any, graph: Graph) -> list[Diagnostic]:
    """`verify` at every verification environment; stops at the first one that disagrees, whose
    sizes the messages name."""
    example = graph.example_env
    for env in verification_envs(graph):
        diags = verify(gm, graph, env)
        if diags:
            if env != example:
                at = ", ".join(f"{k}={v}" for k, v in sorted(env.items()) if v != example.get(k))
                diags = [Diagnostic(d.code, f"at {at}: {d.message}", d.span, severity=d.severity, hint=d.hint,
                                    related=d.related) for d in diags]
            return diags
    return []


def verify(gm: Any, graph: Graph, env: dict[str, int] | None = None) -> list[Diagnostic]:
    import torch
    import torch.fx as fx

    env = graph.example_env if env is None else env
    diags: list[Diagnostic] = []
    fx_to_path = node_map(gm).to_path
    by_path = {n.path: n for n in graph.nodes}
    seen: dict[str, Any] = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n: fx.Node) -> Any:
            try:
                result = super().run_node(n)
            except Exception as e:  # the module could not run: report the node, not a traceback
                path = fx_to_path.get(n.name)
                node = by_path.get(path) if path else None
                diags.append(Diagnostic("ARC602", f"`{path or n.name}` failed to execute: {type(e).__name__}: {e}",
                                        node.span if node else None, hint="this is a bug in archc; please report it"))
                raise _Stop from None
            if n.name in fx_to_path:
                seen[fx_to_path[n.name]] = result
            return result

    meta = all(p.device.type == "meta" for p in gm.parameters()) if any(True for _ in gm.parameters()) else True
    inputs = example_inputs(graph, env, device="meta")
    try:
        if meta:
            Recorder(gm).run(*inputs.values())
        else:
            from torch._subclasses.fake_tensor import FakeTensorMode

            with FakeTensorMode(allow_non_fake_inputs=True) as mode:
                fake = [mode.from_tensor(torch.empty(t.shape, dtype=t.dtype)) for t in inputs.values()]
                Recorder(gm).run(*fake)
    except _Stop:
        return diags
    for n in graph.nodes:
        got = seen.get(n.path)
        if got is None:
            diags.append(Diagnostic("ARC602", f"`{n.path}` was not executed", n.span))
            continue
        gots = list(got) if isinstance(got, (tuple, list)) else [got]
        for k, (t, g) in enumerate(zip(n.outputs, gots)):
            want = tuple(evaluate(d, env) for d in t.shape)
            if tuple(g.shape) != want or str(g.dtype).removeprefix("torch.") != t.dtype:
                diags.append(Diagnostic(
                    "ARC602", f"`{n.path}` ({n.op}): inferred {shape_str(t.shape)} = {list(want)} {t.dtype}, "
                    f"executed {list(g.shape)} {str(g.dtype).removeprefix('torch.')}", n.span,
                    hint="static and executed shapes disagree: this is a bug in archc's shape rule; please report it"))
    # parameters: the static shapes must be the module's
    static = graph.state_dict_shapes()
    actual = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    if static != actual:
        missing = sorted(set(static) - set(actual))[:5]
        extra = sorted(set(actual) - set(static))[:5]
        diff = [k for k in static if k in actual and static[k] != actual[k]][:5]
        diags.append(Diagnostic("ARC602", f"static parameters disagree with the module: missing {missing}, extra {extra}, "
                                f"different shapes {diff}", None, hint="this is a bug in archc; please report it"))
    return diags


class _Stop(Exception):
    pass
