"""Static profile of a typed graph: parameters, MACs, FLOPs and activation bytes per node and per
block (scope), and a static peak-memory estimate from a liveness walk. No execution, no torch.

Memory estimate: weights + buffers + the peak of live activation storage while walking the IR's
nodes in their (topological) order. Graph inputs are live throughout (the caller holds them);
a node's outputs are allocated while its inputs are still live, and a storage is freed after its
last consumer unless it is a graph output. `view` ops (reshape, transpose, dropout in eval, ...)
share their input's storage and extend its lifetime. An op's `workspace` (attention's q, k, v) is
counted while it runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any, Mapping

from archc.ir.dims import UnboundSymbol, evaluate
from archc.ir.graph import Graph, ValueRef, param_key
from archc.profile.costs import Cost, aliases, counted, node_cost, uncounted_reason

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "int32": 4, "bool": 1}
FLOATS = ("float32", "float16", "bfloat16", "float64")


@dataclass
class NodeCost:
    path: str
    op: str
    block: str | None
    scope: str | None          # innermost enclosing scope path
    file: str | None
    line: int | None
    params: int
    macs: int
    flops: int
    macs_causal: int
    flops_causal: int
    output_bytes: int
    output_shapes: list[list[int]]
    counted: bool              # False: no cost rule (an uncounted op)
    uncounted_reason: str | None = None


@dataclass
class BlockCost:
    path: str
    kind: str
    name: str | None
    depth: int
    file: str | None
    line: int | None
    nodes: int = 0
    params: int = 0
    macs: int = 0
    flops: int = 0
    macs_causal: int = 0
    flops_causal: int = 0
    output_bytes: int = 0


@dataclass
class StaticProfile:
    name: str
    variant: str | None
    symbols: dict[str, int]
    dtype: str | None
    params: int
    macs: int
    flops: int
    macs_causal: int
    flops_causal: int
    activation_bytes: int
    weights_bytes: int
    buffers_bytes: int
    inputs_bytes: int
    peak_activation_bytes: int
    peak_at: str | None
    nodes: list[NodeCost]
    blocks: list[BlockCost]
    uncounted: list[dict] = field(default_factory=list)
    batch_symbol: str | None = None
    per_sample: dict | None = None
    per_token: dict | None = None
    saved_activation_bytes: int = 0   # inputs + outputs that own storage: what backward keeps

    @property
    def static_peak_bytes(self) -> int:
        return self.weights_bytes + self.buffers_bytes + self.peak_activation_bytes


def _bytes(dtype: str, override: str | None) -> int:
    if override is not None and dtype in FLOATS:
        return DTYPE_BYTES[override]
    return DTYPE_BYTES.get(dtype, 4)


def batch_symbol(graph: Graph) -> str | None:
    """The symbol of dim 0 of the first input, when it is a bare symbol (the batch)."""
    from archc.ir.dims import SymExpr, free_symbols

    for inp in graph.inputs.values():
        if inp.type.rank and isinstance(inp.type.shape[0], SymExpr):
            fs = free_symbols(inp.type.shape[0])
            if len(fs) == 1:
                (s,) = fs
                if str(inp.type.shape[0]) == s:
                    return s
        return None
    return None


def analyze(graph: Graph, env: Mapping[str, int] | None = None, dtype: str | None = None) -> StaticProfile:
    """The static profile of `graph` at `env` (default: the symbols' example sizes).

    `dtype` (float32, bfloat16, float16, float64) is the dtype floating tensors and weights are
    counted in (default: each tensor's own dtype; weights float32)."""
    env = dict(graph.example_env if env is None else env)
    index = {n.path: n for n in graph.nodes}
    scopes = sorted(graph.scopes.values(), key=lambda s: len(s.path))
    scope_paths = {s.path for s in scopes}

    def innermost_scope(path: str) -> str | None:
        parts = path.split(".")
        for k in range(len(parts) - 1, 0, -1):
            p = ".".join(parts[:k])
            if p in scope_paths:
                return p
        return None

    nodes: list[NodeCost] = []
    unc: dict[str, int] = {}
    tm = tf = tmc = tfc = 0
    act_total = 0
    saved = 0
    costs: dict[str, Cost] = {}
    for n in graph.nodes:
        ins = [graph.type_of(r) for r in n.inputs]
        cost = node_cost(n, ins, env)
        if cost is None:
            c = Cost()
            unc[n.op] = unc.get(n.op, 0) + 1
        else:
            c = cost
        costs[n.path] = c
        shapes = [[evaluate(d, env) for d in t.shape] for t in n.outputs]
        ob = sum(prod(s) * _bytes(t.dtype, dtype) for s, t in zip(shapes, n.outputs))
        act_total += ob
        if not (aliases(n.op) and n.inputs):
            saved += ob
        tm += c.macs
        tf += c.flops
        tmc += c.mc
        tfc += c.fc
        nodes.append(NodeCost(
            n.path, n.op, n.block, innermost_scope(n.path), n.span.file if n.span else None,
            n.span.line if n.span else None, n.param_count, c.macs, c.flops, c.mc, c.fc, ob, shapes,
            cost is not None, None if cost is not None else uncounted_reason(n.op) or "no cost rule for this op",
        ))
    # blocks: every scope aggregates the nodes below it
    blocks = {s.path: BlockCost(s.path, s.kind, s.name, s.path.count(".") + 1, s.span.file if s.span else None,
                                s.span.line if s.span else None) for s in scopes}
    for nc in nodes:
        parts = nc.path.split(".")
        for k in range(1, len(parts)):
            b = blocks.get(".".join(parts[:k]))
            if b is not None:
                b.nodes += 1
                b.params += nc.params
                b.macs += nc.macs
                b.flops += nc.flops
                b.macs_causal += nc.macs_causal
                b.flops_causal += nc.flops_causal
                b.output_bytes += nc.output_bytes
    # weights (tied parameters once) and buffers
    pdt = dtype or "float32"
    tied = {t.param for t in graph.ties}
    wbytes = 0
    bbytes = 0
    for n in graph.nodes:
        for k, s in n.params.items():
            if param_key(n.path, k) not in tied:
                wbytes += prod(s) * DTYPE_BYTES[pdt]
        for k, s in n.buffers.items():
            bbytes += prod(s) * (8 if k.endswith("num_batches_tracked") else DTYPE_BYTES[pdt])
    peak, peak_at, in_bytes = _liveness(graph, env, dtype, costs)
    total_nodes = len(graph.nodes) or 1
    uncounted = [{"op": op, "nodes": k, "share": k / total_nodes,
                  "reason": uncounted_reason(op) or "no cost rule for this op (a plugin op?)"}
                 for op, k in sorted(unc.items(), key=lambda kv: -kv[1])]
    prof = StaticProfile(
        graph.name, graph.variant, env, dtype, graph.param_count, tm, tf, tmc, tfc, act_total, wbytes, bbytes,
        in_bytes, peak, peak_at, nodes, list(blocks.values()), uncounted,
    )
    bs = batch_symbol(graph)
    prof.batch_symbol = bs
    prof.saved_activation_bytes = in_bytes + saved
    if bs is not None and env.get(bs):
        b = env[bs]
        prof.per_sample = {"macs": tm / b, "flops": tf / b, "flops_causal": tfc / b}
    first = next(iter(graph.inputs.values()), None)
    if first is not None and first.type.dtype in ("int64", "int32") and first.type.rank == 2:
        try:
            tokens = prod(evaluate(d, env) for d in first.type.shape)
        except UnboundSymbol:
            tokens = 0
        if tokens:
            prof.per_token = {"macs": tm / tokens, "flops": tf / tokens, "flops_causal": tfc / tokens,
                              "tokens": tokens}
    return prof


def _liveness(graph: Graph, env: Mapping[str, int], dtype: str | None, costs: dict[str, Cost]) -> tuple[int, str | None, int]:
    """Peak live activation bytes (inputs included), the node at the peak, and the inputs' bytes."""
    storage_of: dict[ValueRef, int] = {}   # value -> storage id
    size: dict[int, int] = {}
    last_use: dict[int, int] = {}
    pinned: set[int] = set()
    next_id = 0

    def new_storage(nbytes: int) -> int:
        nonlocal next_id
        next_id += 1
        size[next_id] = nbytes
        return next_id

    in_bytes = 0
    for name, inp in graph.inputs.items():
        nb = prod(evaluate(d, env) for d in inp.type.shape) * _bytes(inp.type.dtype, dtype)
        in_bytes += nb
        sid = new_storage(nb)
        storage_of[ValueRef(name, 0, True)] = sid
        pinned.add(sid)
    # first pass: assign storages (views share their input's) and find last uses
    order = graph.nodes
    for i, n in enumerate(order):
        for r in n.inputs:
            sid = storage_of.get(r)
            if sid is not None:
                last_use[sid] = i
        view = aliases(n.op)
        for k, t in enumerate(n.outputs):
            ref = ValueRef(n.path, k)
            if view and n.inputs and n.inputs[0] in storage_of:
                storage_of[ref] = storage_of[n.inputs[0]]
            elif view and not n.inputs:  # its own parameter or buffer (`param`, `constant`): counted as weights
                storage_of[ref] = new_storage(0)
                last_use.setdefault(storage_of[ref], i)
            else:
                nb = prod(evaluate(d, env) for d in t.shape) * _bytes(t.dtype, dtype)
                storage_of[ref] = new_storage(nb)
                last_use.setdefault(storage_of[ref], i)
    for o in graph.outputs.values():
        if o.ref in storage_of:
            pinned.add(storage_of[o.ref])
    # second pass: walk
    live: set[int] = {storage_of[ValueRef(nm, 0, True)] for nm in graph.inputs}
    cur = sum(size[s] for s in live)
    peak, peak_at = cur, None
    frees: dict[int, list[int]] = {}
    for sid, i in last_use.items():
        if sid not in pinned:
            frees.setdefault(i, []).append(sid)
    for i, n in enumerate(order):
        for k in range(len(n.outputs)):
            sid = storage_of[ValueRef(n.path, k)]
            if sid not in live:
                live.add(sid)
                cur += size[sid]
        ws = costs[n.path].workspace * _bytes(n.out.dtype, dtype) if n.path in costs else 0
        if cur + ws > peak:
            peak, peak_at = cur + ws, n.path
        for sid in frees.get(i, ()):
            if sid in live:
                live.discard(sid)
                cur -= size[sid]
    return peak, peak_at, in_bytes


def registry_gaps(ops: Mapping[str, Any]) -> list[str]:
    """Registered ops with neither a cost rule nor an `Uncounted` declaration."""
    return sorted(op for op in ops if not counted(op) and uncounted_reason(op) is None)


# ---------------------------------------------------------------------------------------------
# training memory
# ---------------------------------------------------------------------------------------------

# optimizer state per parameter element, in parameters' dtype: SGD keeps none, SGD with momentum
# one buffer (torch.optim.SGD's momentum_buffer), Adam/AdamW two (exp_avg, exp_avg_sq)
OPTIMIZER_STATES = {"sgd": 0, "sgd-momentum": 1, "adam": 2, "adamw": 2}

TRAINING_METHOD = (
    "weights + buffers (as inference); gradients: one per trainable parameter element, in the "
    "parameters' dtype; optimizer state: {states} per parameter element for {optimizer}; "
    "activations kept for backward: the inputs and every node's output that is not a view "
    "(an upper bound: autograd saves at most the tensors the forward made; in-place and "
    "recomputed ops save less), all held at once at the start of backward")


def training_memory(prof: StaticProfile, optimizer: str = "adam") -> dict:
    """The training-step memory estimate beside the inference one (torchinfo's forward/backward
    size plus what an optimizer step holds): weights, gradients, optimizer state, buffers and the
    activations kept for backward."""
    states = OPTIMIZER_STATES[optimizer]
    grads = prof.weights_bytes
    opt = states * prof.weights_bytes
    saved_bytes = prof.saved_activation_bytes
    total = prof.weights_bytes + prof.buffers_bytes + grads + opt + saved_bytes
    return {
        "optimizer": optimizer, "optimizer_states_per_param": states,
        "weights_bytes": prof.weights_bytes, "buffers_bytes": prof.buffers_bytes, "gradients_bytes": grads,
        "optimizer_bytes": opt, "saved_activation_bytes": saved_bytes, "total_bytes": total,
        "method": TRAINING_METHOD.format(states=states, optimizer=optimizer),
    }
