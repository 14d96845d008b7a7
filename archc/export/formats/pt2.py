"""`pt2`: `torch.export.export` with the spec's dynamic shapes, saved with `torch.export.save`;
reloaded with `torch.export.load` for verification.

The exported program is also what the ONNX exporter translates, so both artifacts share one trace.
Every traced node carries `meta["custom"]["archc_node"]`, the IR node it came from (torch.export
keeps the GraphModule's node metadata, `torch.export.save` serialises it), which is how a mismatch
is located in the reloaded program.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from archc.codegen.nodemap import node_map
from archc.diagnostics import Diagnostic, DiagnosticError
from archc.export.dynamic import SymbolPlan, choose_sizes, guard_in_spec_terms, narrow
from archc.export.registry import ExportContext, ExportFormat, register_format, timed
from archc.export.verify import ModuleRunner
from archc.ir.dims import evaluate
from archc.ir.graph import Graph

TAG = "archc_node"


def tag_nodes(gm: Any) -> None:
    """Record on every fx node that computes an IR node the IR path (torch.export keeps it)."""
    nodes = node_map(gm)
    for n in gm.graph.nodes:
        p = nodes.path(n.name)
        if p is not None:
            custom = dict(n.meta.get("custom") or {})
            custom[TAG] = p
            n.meta["custom"] = custom


def dynamic_shapes(graph: Graph, plans: Mapping[str, SymbolPlan]) -> dict[str, Any]:
    """`dynamic_shapes` keyed by the forward's argument names (the spec's input names)."""
    from torch.export import Dim

    dims: dict[str, Any] = {}
    for name, p in plans.items():
        if not p.dynamic:
            continue
        if p.step == 1:
            dims[name] = Dim(name, min=p.lo, max=p.hi) if p.hi is not None else Dim(name, min=p.lo)
        else:
            r = p.residue
            lo = (p.lo - r) // p.step
            base_name = f"{name}_div{p.step}"
            base = Dim(base_name, min=lo, max=(p.hi - r) // p.step) if p.hi is not None else Dim(base_name, min=lo)
            dims[name] = base * p.step + r if r else base * p.step
    out: dict[str, Any] = {}
    for iname, inp in graph.inputs.items():
        axes = {}
        for ax, d in enumerate(inp.type.shape):
            s = str(d)
            if s in dims:
                axes[ax] = dims[s]
        out[iname] = axes or None
    return out


_NOT_ALL = re.compile(r"Not all values of (\w+) = .*? in the specified range ?(.*?) ?satisfy the generated guard (.*?)\.?\s*$")
_SPECIAL = re.compile(r"You marked (\w+) as dynamic but your code specialized it to be a constant \((-?\d+)\)")
_EQUAL = re.compile(r"Not all values of (\w+) = .*? are valid because \1 was inferred to be (?:equal to|a constant) \(?(.*?)\)?\.?\s*$")


def _symbol_of(name: str, plans: Mapping[str, SymbolPlan]) -> str | None:
    if name in plans:
        return name
    m = re.match(r"(\w+)_div\d+$", name)
    return m.group(1) if m and m.group(1) in plans else None


def export_program(gm: Any, graph: Graph, plans: dict[str, SymbolPlan], args: tuple) -> tuple[Any, list[Diagnostic]]:
    """torch.export with the plan's dims. A guard the exporter adds is turned into a narrower range
    (reported) when that keeps the trace size, else the symbol is made static (a warning; an error
    for a symbol named in --dynamic). Returns (program, diagnostics); raises DiagnosticError."""
    import torch

    from archc.codegen.fx import tuple_outputs

    gm = tuple_outputs(gm)      # a NamedTuple of outputs would not load without archc
    tag_nodes(gm)
    diags: list[Diagnostic] = []
    env = {n: p.export_size for n, p in plans.items()}
    for _ in range(2 * len(plans) + 2):
        ds = dynamic_shapes(graph, plans)
        try:
            return torch.export.export(gm, args, dynamic_shapes=ds if any(ds.values()) else None, strict=False), diags
        except Exception as e:  # noqa: BLE001 - sorted below into guards and failures
            msg = str(e)
            if "Constraints violated" not in msg and "specialized" not in msg:
                raise DiagnosticError([Diagnostic("ARC510", f"torch.export failed: {type(e).__name__}: {_line(msg)}", None,
                                                  hint="an op of this spec cannot be traced by torch.export")]) from None
            changed = False
            for line in msg.splitlines():
                line = line.strip().lstrip("- ")
                m = _NOT_ALL.search(line)
                if m:
                    sym = _symbol_of(m.group(1), plans)
                    if sym is None or not plans[sym].dynamic:
                        continue
                    p = plans[sym]
                    guard = m.group(3)
                    readable = guard_in_spec_terms(graph, guard)
                    new_lo = narrow(graph, p, guard, env)
                    if new_lo == p.lo:      # already holds on the range (an earlier guard narrowed it)
                        continue
                    if new_lo is not None:
                        old = p.lo
                        p.lo = new_lo
                        p.note = f"range narrowed from {old} to {new_lo}: torch.export guards `{readable}`"
                        choose_sizes(graph, p, {k: q.example for k, q in plans.items()})
                        diags.append(Diagnostic("ARC512", f"`{sym}` is exported for {sym} >= {new_lo} (the spec allows {sym} >= {old}): "
                                                f"torch.export specialises the smaller sizes (guard `{readable}`)",
                                                graph.symbols[sym].span, severity="warning",
                                                hint=f"declare `min: {new_lo}` for {sym} to make this explicit"))
                    else:
                        _make_static(graph, p, f"torch.export guards `{readable}`", diags)
                    changed = True
                    continue
                m = _SPECIAL.search(line) or _EQUAL.search(line)
                if m:
                    sym = _symbol_of(m.group(1), plans)
                    if sym is not None and plans[sym].dynamic:
                        why = (f"torch.export specialised it to {m.group(2)}" if m.re is _SPECIAL
                               else f"torch.export inferred it equal to {m.group(2)}")
                        _make_static(graph, plans[sym], why, diags)
                        changed = True
            if not changed:
                requested = any(p.requested for p in plans.values())
                raise DiagnosticError([Diagnostic("ARC511", f"torch.export cannot keep the {'requested ' if requested else ''}dynamic symbols: {_line(msg)}", None,
                                                  hint="pass --dynamic with fewer symbols" if requested else
                                                  "every symbol is dynamic by default: declare the range the exporter needs (`min:`/`max:`), "
                                                  "or pass --dynamic naming the symbols to keep dynamic (`--dynamic none`: all static)")]) from None
            if any(d.severity == "error" for d in diags):
                raise DiagnosticError(diags)
            args = _retrace_args(graph, plans, args)
            env = {n: p.export_size for n, p in plans.items()}
    raise DiagnosticError(diags + [Diagnostic("ARC511", "torch.export kept specialising symbols; giving up", None)])


def _make_static(graph: Graph, p: SymbolPlan, why: str, diags: list[Diagnostic]) -> None:
    p.dynamic = False
    p.note = f"static: {why}"
    p.lo = p.hi = p.export_size
    sev = "error" if p.requested else "warning"
    diags.append(Diagnostic("ARC511", f"`{p.name}` cannot stay dynamic: {why}; it is exported static at {p.name} = {p.export_size}",
                            graph.symbols[p.name].span, severity=sev,
                            hint=None if p.requested else f"every symbol is dynamic by default: pass --dynamic naming the others to silence this"))
    p.example = p.export_size
    p.verify_sizes = [p.export_size]


def _retrace_args(graph: Graph, plans: Mapping[str, SymbolPlan], args: tuple) -> tuple:
    env = {n: p.export_size for n, p in plans.items()}
    out = []
    for a, inp in zip(args, graph.inputs.values()):
        shape = tuple(evaluate(d, env) for d in inp.type.shape)
        if tuple(a.shape) != shape:
            import torch

            a = torch.zeros(shape, dtype=a.dtype) if not a.dtype.is_floating_point else torch.randn(shape).to(a.dtype)
        out.append(a)
    return tuple(out)


def _line(msg: str) -> str:
    lines = [ln.strip() for ln in msg.strip().splitlines() if ln.strip()]
    return " ".join(lines[:3])[:500]


def with_weights(ep: Any, state: Mapping[str, Any]) -> Any:
    """A copy of the program holding `state`'s tensors (by state_dict key) instead of its own: the
    randomized twin that formats translating the program (ONNX) are verified on; the same trace."""
    import copy

    import torch

    twin = copy.deepcopy(ep)
    for k in list(twin.state_dict):
        old, new = twin.state_dict[k], state[k].detach().clone()
        twin.state_dict[k] = torch.nn.Parameter(new, requires_grad=old.requires_grad) if isinstance(old, torch.nn.Parameter) else new
    return twin


def save(ep: Any, path: str) -> None:
    import torch

    from archc.export.atomic import write_in_child

    write_in_child(path, torch.export.save, ep, path)   # a failed write aborts torch's writer: never archc


class Pt2Runner(ModuleRunner):
    fmt = "pt2"

    def __init__(self, path: str):
        import torch

        self.ep = torch.export.load(path)
        self.module = self.ep.module()

    def run(self, inputs: Mapping[str, Any]) -> list[Any]:
        import torch

        from archc.export.verify import flatten

        with torch.no_grad():
            return flatten(self.module(*inputs.values()))

    def intermediates(self, inputs: Mapping[str, Any], ref: Mapping[str, Any]) -> dict[str, list[Any]]:
        import torch
        import torch.fx as fx

        got: dict[str, list[Any]] = {}
        self._where: dict[str, str] = {}
        where = self._where

        class Rec(fx.Interpreter):
            def run_node(self, n):
                r = super().run_node(n)
                p = (n.meta.get("custom") or {}).get(TAG)
                if p is not None and isinstance(r, torch.Tensor):
                    got.setdefault(p, []).append(r)
                    where[p] = f"node `{n.name}`"
                return r

        with torch.no_grad():
            Rec(self.module).run(*inputs.values())
        return got

    def describe(self, path: str) -> str | None:
        return getattr(self, "_where", {}).get(path)


def _export(ctx: ExportContext, entry: dict) -> list[str]:
    elapsed = timed()
    save(ctx.program, ctx.file("model.pt2"))
    entry["export_seconds"] = ctx.program_seconds + elapsed()
    return ["model.pt2"]


register_format(ExportFormat(
    name="pt2",
    files=("model.pt2",),
    exporter="torch.export.export + torch.export.save",
    export=_export,
    load=lambda ctx: Pt2Runner(ctx.file("model.pt2")),
    default=True,
    order=10,
    uses_program=True,
))
