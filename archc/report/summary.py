"""Summaries of a typed graph: the JSON document of `archc check --json` and its rich table.

The table shows each node's symbolic shape beside its size at the symbols' example sizes; with a
depth, the nodes below that many levels of blocks fold into one row per block (params summed,
the block's last node's shape), as `archc graph --depth` draws them."""
from __future__ import annotations

from typing import Any

from archc.ir.dims import evaluate, shape_str
from archc.ir.graph import Graph

SCHEMA_VERSION = 1


def check_summary(unit: Any, spec: str) -> dict[str, Any]:
    """`archc check`'s document for a unit that ran up to `verify`: the graph summary, and whether
    its shapes were verified by execution (`unit.verified is None`: skipped past the node limit,
    warning ARC607, so no verified sizes)."""
    doc = graph_summary(unit.graph)
    doc["spec"] = spec
    doc["verified"] = unit.verified is not None
    doc["checked"] = True
    if unit.verified is None:
        doc["verified_at"] = []
        doc["diagnostics"] = [d.to_json() for d in unit.session.diagnostics]
    return doc


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
        "blocks": _blocks(graph),
        "resolved_params": graph.params,
    }


def _fmt_count(n: int) -> str:
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def _chains(scopes: dict[str, dict], path: str) -> list[str]:
    """The scopes enclosing `path`, outermost first."""
    parts = path.split(".")
    return [p for p in (".".join(parts[:k]) for k in range(1, len(parts))) if p in scopes]


def _blocks(graph: Graph) -> list[dict[str, Any]]:
    """Every block instance, repeat and seq: its nesting depth (1: top level), nodes and params."""
    out: dict[str, dict[str, Any]] = {}
    for path, sc in sorted(graph.scopes.items(), key=lambda kv: len(kv[0])):
        out[path] = {"scope": path, "kind": sc.kind, "name": sc.name, "depth": len(_chains(out, path)) + 1,
                     "nodes": 0, "params": 0, "line": sc.span.line if sc.span else None,
                     "file": sc.span.file if sc.span else None}
    for n in graph.nodes:
        for p in _chains(out, n.path):
            out[p]["nodes"] += 1
            out[p]["params"] += n.param_count
    return list(out.values())


def _example(shape: Any) -> str:
    if shape and isinstance(shape[0], list):
        return "; ".join(_example(s) for s in shape)
    return "[" + ", ".join(map(str, shape)) + "]"


def check_rows(doc: dict[str, Any], depth: int | None = None) -> list[dict[str, Any]]:
    """The table's rows: every node, or with `depth` N the nodes inside more than N levels of blocks
    folded into their block at depth N + 1 (in graph order, where the block's first node is)."""
    scopes = {b["scope"]: b for b in doc.get("blocks") or []}
    rows: list[dict[str, Any]] = []
    folded: dict[str, dict[str, Any]] = {}
    for n in doc["nodes"]:
        chain = _chains(scopes, n["id"])
        if depth is None or len(chain) <= depth:
            rows.append(dict(n, example=_example(n["example_shape"])))
            continue
        b = scopes[chain[depth]]
        row = folded.get(b["scope"])
        if row is None:
            row = folded[b["scope"]] = {"id": b["scope"], "op": b["name"] or b["kind"],
                                        "params": 0, "line": b["line"], "file": b["file"]}
            rows.append(row)
        row["params"] += n["params"]
        row["shape"], row["example"] = n["shape"], _example(n["example_shape"])
    return rows


def render_check(con: Any, doc: dict[str, Any], depth: int | None = None, wide: bool = False) -> None:
    import os

    from archc.report.fit import Col, fit_table, say

    sizes = ", ".join(f"{k}={v['example']}" for k, v in doc["symbols"].items())
    title = f"{doc['spec']}: {doc['name']}" + (f" ({doc['variant']})" if doc.get("variant") else "") \
        + (f"; example sizes {sizes}" if sizes else "")
    spec_dir = os.path.dirname(doc["spec"])
    cols = [Col("node", kind="name"), Col("op", drop=2), Col("output shape", kind="text"),
            Col("example"), Col("params", "right"), Col("where", "right", drop=3, style="dim")]
    table = []
    rows = check_rows(doc, depth)
    for n in rows:
        shape = n["shape"] if isinstance(n["shape"], str) else "; ".join(n["shape"])
        where = str(n["line"] or "")
        if n.get("file") and os.path.normpath(n["file"]) != os.path.normpath(doc["spec"]):
            where = f"{os.path.relpath(n['file'], spec_dir or '.')}:{where}"
        table.append([n["id"], n["op"], shape, n["example"], f"{n['params']:,}" if n["params"] else "", where])
    fit_table(con, cols, table, title, wide)
    ins = ", ".join(f"{k} {v['shape']} {v['dtype']}" for k, v in doc["inputs"].items())
    outs = ", ".join(f"{k} {v['shape']}" for k, v in doc["outputs"].items())
    con.print(f"inputs: {ins}")
    con.print(f"outputs: {outs}")
    ex = "; ".join(", ".join(f"{k}={v}" for k, v in env.items()) for env in doc.get("verified_at") or [])
    if doc["constraints"]:
        con.print(f"requires: {'; '.join(doc['constraints'])}")
    folded = f" in {len(rows)} rows (--depth {depth})" if depth is not None else ""
    verified = (f"shapes verified on the meta device at {ex or 'static sizes'}" if doc.get("verified", True) else
                "shapes inferred statically, not verified by execution (ARC607; --verify-all runs it)")
    say(con, f"{len(doc['nodes'])} nodes{folded}, {doc['params']:,} parameters ({_fmt_count(doc['params'])}); {verified}")


def render_check_line(con: Any, doc: dict[str, Any]) -> None:
    """One spec of `archc check FOLDER`: its name, nodes and parameters, or why it failed."""
    from archc.report.fit import say

    if doc.get("checked"):
        name = doc["name"] + (f" ({doc['variant']})" if doc.get("variant") else "")
        verified = "shapes verified" if doc.get("verified", True) else "shapes not verified by execution (ARC607)"
        say(con, f"{doc['spec']}: {name}, {len(doc['nodes'])} node{'s' if len(doc['nodes']) != 1 else ''}, {doc['params']:,} parameters "
                 f"({_fmt_count(doc['params'])}); {verified}")
    elif doc.get("diagnostics") is not None:
        n = sum(1 for d in doc["diagnostics"] if d.get("severity", "error") == "error")
        say(con, f"{doc['spec']}: failed, {n} error{'s' if n != 1 else ''}")
    else:
        say(con, f"{doc['spec']}: failed, {doc.get('internal_error') or doc.get('error')}")


def _verified_at(graph) -> list[dict[str, int]]:
    """The sizes the verify stage runs the module at (the example, then each dynamic symbol's
    second size: the export plan's, `archc.ir.sizes`)."""
    from archc.ir import sizes

    return sizes.envs(graph, sizes.plan(graph)[0])
