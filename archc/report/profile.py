"""`archc profile`: the JSON document and its rich tables.

JSON schema `archc-profile`, version 1 (additive changes keep the version; a removal or a change of
meaning bumps it)::

    schema: "archc-profile", schema_version: 1
    spec, name, variant, device, dtype, torch (version or null), archc (version)
    convention: {version, mode, macs, flops, flops_causal, activations_per_element, memory, docs}
    symbols: {NAME: size}                      # the sizes everything below is evaluated at
    params, macs, flops, macs_causal, flops_causal    # totals; flops is the dense headline
    activation_bytes                           # sum of every node's output bytes
    memory: {weights_bytes, buffers_bytes, inputs_bytes, peak_activation_bytes, peak_at,
             static_peak_bytes, measured_peak_bytes, measured_activation_peak_bytes, method,
             training: {optimizer, optimizer_states_per_param, weights_bytes, buffers_bytes,
                        gradients_bytes, optimizer_bytes, saved_activation_bytes, total_bytes, method}}
        # training: a static estimate of one training step (archc.profile.static.training_memory):
        # gradients = weights_bytes; optimizer_bytes = states x weights_bytes (Adam/AdamW 2, SGD with
        # momentum 1, SGD 0); saved_activation_bytes = inputs + every node output that is not a view
    batch: {symbol, size} | null               # the batch symbol and its example size
    per_sample: {macs, flops, flops_causal,              # divided by the batch symbol (the headline)
                 activation_bytes, saved_activation_bytes, inference_bytes, training_bytes} | null
        # memory per sample: the peak activations and the activations kept for backward divided by
        # the batch, plus what does not grow with it (weights and buffers; in training also the
        # gradients and optimizer state): inference_bytes, training_bytes
    per_token: {macs, flops, flops_causal, tokens} | null  # token-id inputs [B, T]
    uncounted: [{op, nodes, share, reason}]    # ops without a cost rule, never silently zero
    nodes: [{id, op, block, scope, file, line, params, macs, flops, macs_causal, flops_causal,
             output_bytes, output_shape, latency_ms}]          # in graph order
    blocks: [{scope, kind, name, depth, file, line, nodes, params, macs, flops, macs_causal,
              flops_causal, output_bytes, latency_ms}]
    measured: null | {device, device_name, dtype, compile, compile_s, threads,
                      latency_ms: {median, q1, q3, iqr, min, max, n, warmup},
                      per_node_overhead: {interpreted_ms, eager_ms, sum_of_nodes_ms, ratio},
                      peak_memory_bytes, activation_peak_bytes, methods}
    throughput: [{batch_size, macs, flops, flops_causal, static_peak_bytes, latency_ms,
                  samples_per_s, peak_memory_bytes}]
    sweep: null | {symbol, symbols, rows: [{value, symbols, params, macs, flops, macs_causal, flops_causal,
                                   activation_bytes, static_peak_bytes, latency_ms, peak_memory_bytes}]}
        # symbol: as given (`H,W`); symbols: each symbol set to the row's value
    budget: [{name, what, limit, value, ok, checked, source, file, line}]
    passed: bool                               # no budget exceeded
"""
from __future__ import annotations

import os
from typing import Any

from archc.profile.costs import CONVENTION
from archc.profile.units import fmt_bytes, fmt_count

SCHEMA = "archc-profile"
SCHEMA_VERSION = 1


def _torch_version(measured: dict | None) -> str | None:
    import sys

    if "torch" in sys.modules:
        return sys.modules["torch"].__version__
    try:
        from importlib.metadata import version

        return version("torch")
    except Exception:
        return None


def build_doc(spec: str, static: Any, results: dict, checks: list, device: str, dtype: str | None,
              optimizer: str = "adam") -> dict:
    from archc import __version__
    from archc.profile.static import training_memory

    measured = results.get("measured")
    per_node = (measured or {}).get("per_node_ms") or {}
    nodes = []
    for n in static.nodes:
        nodes.append({
            "id": n.path, "op": n.op, "block": n.block, "scope": n.scope, "file": n.file, "line": n.line,
            "params": n.params, "macs": n.macs, "flops": n.flops, "macs_causal": n.macs_causal,
            "flops_causal": n.flops_causal, "output_bytes": n.output_bytes,
            "output_shape": n.output_shapes[0] if len(n.output_shapes) == 1 else n.output_shapes,
            "latency_ms": per_node.get(n.path) if measured else None,
            **({"counted": False, "uncounted_reason": n.uncounted_reason} if not n.counted else {}),
        })
    blocks = []
    for b in static.blocks:
        lat = None
        if per_node:
            pre = b.path + "."
            lat = sum(v for k, v in per_node.items() if k.startswith(pre))
        blocks.append({
            "scope": b.path, "kind": b.kind, "name": b.name, "depth": b.depth, "file": b.file, "line": b.line,
            "nodes": b.nodes, "params": b.params, "macs": b.macs, "flops": b.flops, "macs_causal": b.macs_causal,
            "flops_causal": b.flops_causal, "output_bytes": b.output_bytes, "latency_ms": lat,
        })
    mem_method = (measured or {}).get("methods", {}).get("memory") if measured else None
    training = training_memory(static, optimizer)
    doc = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "spec": spec,
        "name": static.name,
        "variant": static.variant,
        "device": device,
        "dtype": dtype or "float32",
        "torch": _torch_version(measured),
        "archc": __version__,
        "convention": CONVENTION,
        "symbols": dict(static.symbols),
        "params": static.params,
        "macs": static.macs,
        "flops": static.flops,
        "macs_causal": static.macs_causal,
        "flops_causal": static.flops_causal,
        "activation_bytes": static.activation_bytes,
        "memory": {
            "weights_bytes": static.weights_bytes,
            "buffers_bytes": static.buffers_bytes,
            "inputs_bytes": static.inputs_bytes,
            "peak_activation_bytes": static.peak_activation_bytes,
            "peak_at": static.peak_at,
            "static_peak_bytes": static.static_peak_bytes,
            "measured_peak_bytes": (measured or {}).get("peak_memory_bytes"),
            "measured_activation_peak_bytes": (measured or {}).get("activation_peak_bytes"),
            "method": mem_method,
            "training": training,
        },
        "batch": ({"symbol": static.batch_symbol, "size": static.symbols.get(static.batch_symbol)}
                  if static.batch_symbol else None),
        "per_sample": per_sample_memory(static, training),
        "per_token": static.per_token,
        "uncounted": static.uncounted,
        "nodes": nodes,
        "blocks": blocks,
        "measured": ({k: v for k, v in measured.items() if k != "per_node_ms"} if measured else None),
        "throughput": results.get("throughput") or [],
        "sweep": results.get("sweep"),
        "budget": [c.to_json() for c in checks],
        "passed": all(c.ok is not False for c in checks),
    }
    return doc


def per_sample_memory(static: Any, training: dict) -> dict | None:
    """The per-sample figures (`static.per_sample`: MACs and FLOPs divided by the batch) with the
    memory per sample beside them, as the MACs are: the activations divided by the batch (the
    inference peak, and what a training step keeps for backward), plus the bytes that do not grow
    with the batch: inference = weights + buffers + activations, training = weights + buffers +
    gradients + optimizer state + the activations kept."""
    if not static.per_sample:
        return static.per_sample
    b = static.symbols[static.batch_symbol]
    act = static.peak_activation_bytes / b
    saved = training["saved_activation_bytes"] / b
    fixed = training["total_bytes"] - training["saved_activation_bytes"]
    return {**static.per_sample, "activation_bytes": act, "saved_activation_bytes": saved,
            "inference_bytes": static.weights_bytes + static.buffers_bytes + act, "training_bytes": fixed + saved}


# ---------------------------------------------------------------------------------------------
# rich rendering
# ---------------------------------------------------------------------------------------------


def _where(file: str | None, line: int | None, spec: str) -> str:
    if line is None:
        return ""
    if file and os.path.normpath(file) != os.path.normpath(spec):
        return f"{os.path.relpath(file, os.path.dirname(spec) or '.')}:{line}"
    return str(line)


def _pct(x: float, total: float) -> str:
    return f"{100 * x / total:.1f}%" if total else ""


def _shape(shape: Any) -> str:
    if shape == []:
        return "scalar"
    if shape and isinstance(shape[0], int):
        return "x".join(map(str, shape))
    return "; ".join("x".join(map(str, s)) for s in shape)


def _lat(r: dict) -> tuple[str, str]:
    lat = r.get("latency_ms")
    return (f"{lat['median']:.3f}", f"{lat['iqr']:.3f}") if lat else ("-", "-")


def batch_text(doc: dict) -> str:
    """`B=2` (the batch symbol at its size), or "" when the spec has no batch symbol."""
    b = (doc.get("batch") or {})
    return f"{b['symbol']}={b['size']}" if b.get("symbol") else ""


def render(con: Any, doc: dict, top: int = 20, depth: int = 1, wide: bool = False) -> None:
    from archc.report.fit import Col, fit_table, say

    spec = doc["spec"]
    measured = doc.get("measured")
    total = doc["flops"] or 1
    title = f"{spec}: {doc['name']}" + (f" ({doc['variant']})" if doc.get("variant") else "")
    batch = batch_text(doc)
    others = ", ".join(f"{k}={v}" for k, v in doc["symbols"].items() if k != (doc.get("batch") or {}).get("symbol"))
    nodes = sorted(doc["nodes"], key=lambda n: (-n["flops"], -(n["latency_ms"] or 0), n["id"]))
    if top > 0:
        nodes = nodes[:top]
    cols = [Col("node", kind="name"), Col("op", drop=2), Col("output", drop=4), Col("params", "right"),
            Col("MACs", "right"), Col("FLOPs", "right"), Col("share", "right", drop=3),
            Col("act. bytes", "right", drop=5)]
    if measured:
        cols.append(Col("ms", "right"))
    cols.append(Col("where", "right", drop=6, style="dim"))
    rows = []
    for n in nodes:
        flops = fmt_count(n["flops"]) + ("" if n.get("counted", True) else " ?")
        row = [n["id"], n["op"], _shape(n["output_shape"]), fmt_count(n["params"]) if n["params"] else "",
               fmt_count(n["macs"]) if n["macs"] else "", flops if n["flops"] or not n.get("counted", True) else "",
               _pct(n["flops"], total), fmt_bytes(n["output_bytes"])]
        if measured:
            row.append(f"{n['latency_ms']:.3f}" if n["latency_ms"] is not None else "")
        row.append(_where(n["file"], n["line"], spec))
        rows.append(row)
    shown = f" (top {top} of {len(doc['nodes'])})" if 0 < top < len(doc["nodes"]) else ""
    at = f", batch {batch}" if batch else ""
    fit_table(con, cols, rows, f"{title} — nodes by FLOPs{shown}{at}", wide)
    blocks = [b for b in doc["blocks"] if b["depth"] <= depth]
    if blocks:
        cols = [Col("block", kind="name"), Col("kind", drop=2), Col("nodes", "right", drop=4),
                Col("params", "right"), Col("MACs", "right"), Col("FLOPs", "right"), Col("share", "right", drop=3),
                Col("act. bytes", "right", drop=5)]
        if measured:
            cols.append(Col("ms", "right"))
        cols.append(Col("where", "right", drop=6, style="dim"))
        rows = []
        for b in sorted(blocks, key=lambda b: (-b["flops"], b["scope"])):
            row = [b["scope"], b["name"] or b["kind"], str(b["nodes"]), fmt_count(b["params"]), fmt_count(b["macs"]),
                   fmt_count(b["flops"]), _pct(b["flops"], total), fmt_bytes(b["output_bytes"])]
            if measured:
                row.append(f"{b['latency_ms']:.3f}" if b["latency_ms"] is not None else "")
            row.append(_where(b["file"], b["line"], spec))
            rows.append(row)
        fit_table(con, cols, rows, "blocks by FLOPs", wide)
    mem = doc["memory"]
    causal = f" (causal {fmt_count(doc['flops_causal'])})" if doc["flops_causal"] != doc["flops"] else ""
    params = f"{doc['params']:,} params ({fmt_count(doc['params'])})"
    ps = doc.get("per_sample")
    if ps and batch:
        # the figures the field quotes (one sample), then the batch the example sizes describe
        pc = f" (causal {fmt_count(ps['flops_causal'])})" if ps["flops_causal"] != ps["flops"] else ""
        say(con, f"per sample{' at ' + others if others else ''}, {doc['dtype']}: {params}, "
                 f"{fmt_count(ps['macs'])} MACs, {fmt_count(ps['flops'])} FLOPs{pc}", "bold")
        if ps.get("inference_bytes") is not None:
            tr = mem.get("training") or {}
            opt = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "sgd-momentum": "SGD with momentum"}.get(
                tr.get("optimizer"), tr.get("optimizer"))
            fixed = ps["training_bytes"] - ps["saved_activation_bytes"]
            state = f"gradients and {opt} state" if tr.get("optimizer_bytes") else "gradients"
            say(con, f"per sample, memory: inference {fmt_bytes(ps['inference_bytes'])} (weights "
                     f"{fmt_bytes(mem['weights_bytes'] + mem['buffers_bytes'])} + activations {fmt_bytes(ps['activation_bytes'])}), "
                     f"training step {fmt_bytes(ps['training_bytes'])} (weights, {state} {fmt_bytes(fixed)} + "
                     f"activations kept for backward {fmt_bytes(ps['saved_activation_bytes'])})", "bold")
        say(con, f"batch {batch}: {fmt_count(doc['macs'])} MACs, {fmt_count(doc['flops'])} FLOPs{causal}")
    else:
        sizes = ", ".join(f"{k}={v}" for k, v in doc["symbols"].items())
        say(con, f"total at {sizes or 'static sizes'}, {doc['dtype']}: {params}, "
                 f"{fmt_count(doc['macs'])} MACs, {fmt_count(doc['flops'])} FLOPs{causal}", "bold")
    if doc.get("per_token"):
        say(con, f"per token: {fmt_count(doc['per_token']['flops'])} FLOPs")
    of = f" (static, {batch})" if batch else " (static)"
    say(con, f"memory, inference{of}: weights {fmt_bytes(mem['weights_bytes'] + mem['buffers_bytes'])} + peak activations "
             f"{fmt_bytes(mem['peak_activation_bytes'])}" + (f" at {mem['peak_at']}" if mem["peak_at"] else "")
             + f" = {fmt_bytes(mem['static_peak_bytes'])}")
    tr = mem.get("training")
    if tr:
        opt = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "sgd-momentum": "SGD with momentum"}.get(tr["optimizer"], tr["optimizer"])
        state = f" + {opt} state {fmt_bytes(tr['optimizer_bytes'])}" if tr["optimizer_bytes"] else ""
        say(con, f"memory, training step{of}: weights {fmt_bytes(tr['weights_bytes'] + tr['buffers_bytes'])} + gradients "
                 f"{fmt_bytes(tr['gradients_bytes'])}{state} + activations kept for backward "
                 f"{fmt_bytes(tr['saved_activation_bytes'])} = {fmt_bytes(tr['total_bytes'])}")
    for u in doc["uncounted"]:
        con.print(f"[yellow]uncounted:[/yellow] {u['op']} ({u['nodes']} nodes, {100 * u['share']:.1f}% of nodes): {u['reason']}")
    if measured:
        lat = measured["latency_ms"]
        comp = f", torch.compile (compiled in {measured['compile_s']:.2f} s)" if measured.get("compile") else ", eager"
        con.print(f"latency on {measured['device']} ({measured['device_name']}, {measured['threads']} threads{comp}): "
                  f"median {lat['median']:.3f} ms, IQR {lat['iqr']:.3f} ms over {lat['n']} runs after {lat['warmup']} warm-up")
        ov = measured.get("per_node_overhead")
        if ov:
            con.print(f"per-node timing: fx.Interpreter, {ov['interpreted_ms']:.3f} ms per interpreted forward "
                      f"({ov['ratio']:.2f}x the plain forward)")
        if measured.get("peak_memory_bytes") is not None:
            con.print(f"memory (measured): peak {fmt_bytes(measured['peak_memory_bytes'])} "
                      f"(activations {fmt_bytes(measured['activation_peak_bytes'])})")
    if doc["throughput"]:
        cols = [Col("batch", "right"), Col("MACs", "right", drop=2), Col("FLOPs", "right"), Col("static memory", "right", drop=3),
                Col("median ms", "right"), Col("IQR ms", "right", drop=4), Col("samples/s", "right"),
                Col("peak memory", "right", drop=1)]
        rows = [[str(r["batch_size"]), fmt_count(r["macs"]), fmt_count(r["flops"]), fmt_bytes(r["static_peak_bytes"]), *_lat(r),
                 f"{r['samples_per_s']:.1f}" if r["samples_per_s"] else "-", fmt_bytes(r["peak_memory_bytes"])]
                for r in doc["throughput"]]
        fit_table(con, cols, rows, "throughput", wide)
    if doc.get("sweep"):
        sw = doc["sweep"]
        syms = sw.get("symbols") or [sw["symbol"]]
        cols = [Col(sw["symbol"], "right"), Col("MACs", "right"), Col("FLOPs", "right"), Col("FLOPs causal", "right", drop=2),
                Col("static memory", "right", drop=1), Col("median ms", "right"), Col("peak memory", "right", drop=3)]
        if sw["rows"] and all(r["flops_causal"] == r["flops"] for r in sw["rows"]):
            del cols[3]
        rows = []
        for r in sw["rows"]:
            row = [str(r["value"]), fmt_count(r["macs"]), fmt_count(r["flops"]), fmt_count(r["flops_causal"]),
                   fmt_bytes(r["static_peak_bytes"]), _lat(r)[0], fmt_bytes(r["peak_memory_bytes"])]
            if len(cols) == 6:
                del row[3]
            rows.append(row)
        sizes = ", ".join(f"{k}={v}" for k, v in doc["symbols"].items() if k not in syms)
        fit_table(con, cols, rows, f"sweep over {sw['symbol']}" + (f" at {sizes}" if sizes else ""), wide)
    for c in doc["budget"]:
        mark = {True: "[green]ok[/green]", False: "[red]EXCEEDED[/red]", None: "[yellow]not checked[/yellow]"}[c["ok"]]
        con.print(f"budget {c['name']} ({c['source']}): {c['what']} {mark}")
