"""Summaries of a typed graph: the JSON document of `archc check --json` and its rich table."""
from __future__ import annotations

from typing import Any

from archc.ir.dims import evaluate, shape_str
from archc.ir.graph import Graph

SCHEMA_VERSION = 1


def graph_summary(graph: Graph) -> dict[str, Any]:
    env = graph.example_env
    nodes = []
    for n in graph.nodes:
        nodes.append({
            "id": n.path,
            "op": n.op,
            "block": n.block,
            "inputs": [str(r) for r in n.inputs],
            "shape": [shape_str(t.shape) for t in n.outputs][0] if len(n.outputs) == 1 else [shape_str(t.shape) for t in n.outputs],
            "example_shape": [evaluate(d, env) for d in n.out.shape],
            "dtype": n.out.dtype,
            "params": n.param_count,
            "line": n.span.line if n.span else None,
            "file": n.span.file if n.span else None,
        })
    return {
        "schema_version": SCHEMA_VERSION,
        "name": graph.name,
        "variant": graph.variant,
        "params": graph.param_count,
        "nodes": nodes,
        "inputs": {k: {"shape": shape_str(i.type.shape), "dtype": i.type.dtype} for k, i in graph.inputs.items()},
        "outputs": {k: {"from": str(o.ref), "shape": shape_str(graph.type_of(o.ref).shape),
                        "dtype": graph.type_of(o.ref).dtype, "kind": o.kind} for k, o in graph.outputs.items()},
        "symbols": {s.name: {"example": s.example, "min": s.range.min, "max": s.range.max,
                             "multiple_of": s.range.multiple_of} for s in graph.symbols.values()},
        "constraints": [c.text for c in graph.constraints],
        "verified_at": _verified_at(graph),
        "resolved_params": graph.params,
    }


def _fmt_count(n: int) -> str:
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def render_check(con: Any, doc: dict[str, Any]) -> None:
    from rich.table import Table

    title = f"{doc['spec']}: {doc['name']}" + (f" ({doc['variant']})" if doc.get("variant") else "")
    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    t.add_column("node")
    t.add_column("op")
    t.add_column("output shape")
    t.add_column("params", justify="right")
    t.add_column("where", justify="right", style="dim")
    import os

    spec_dir = os.path.dirname(doc["spec"])
    for n in doc["nodes"]:
        shape = n["shape"] if isinstance(n["shape"], str) else ", ".join(n["shape"])
        where = str(n["line"] or "")
        if n.get("file") and os.path.normpath(n["file"]) != os.path.normpath(doc["spec"]):
            where = f"{os.path.relpath(n['file'], spec_dir or '.')}:{where}"
        t.add_row(n["id"], n["op"], shape, f"{n['params']:,}" if n["params"] else "", where)
    con.print(t)
    ins = ", ".join(f"{k} {v['shape']} {v['dtype']}" for k, v in doc["inputs"].items())
    outs = ", ".join(f"{k} {v['shape']}" for k, v in doc["outputs"].items())
    con.print(f"inputs: {ins}")
    con.print(f"outputs: {outs}")
    ex = "; ".join(", ".join(f"{k}={v}" for k, v in env.items()) for env in doc.get("verified_at") or [])
    if doc["constraints"]:
        con.print(f"requires: {'; '.join(doc['constraints'])}")
    con.print(f"[bold]{len(doc['nodes'])} nodes, {doc['params']:,} parameters ({_fmt_count(doc['params'])})[/bold]; "
              f"shapes verified on the meta device at {ex or 'static sizes'}")


def _verified_at(graph) -> list[dict[str, int]]:
    """The sizes the verify stage runs the module at (the example, then each dynamic symbol's
    second size: the export plan's, `archc.ir.sizes`)."""
    from archc.ir import sizes

    return sizes.envs(graph, sizes.plan(graph)[0])
