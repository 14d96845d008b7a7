"""Lowering: graph IR -> torch.fx.GraphModule.

Node paths become module paths (`layer1.0.conv1`), blocks and repeats become nested submodules, so
`state_dict()` keys read like the spec. Param-free ops become function calls in the graph.
"""
from __future__ import annotations

import operator
import re
from contextlib import nullcontext
from typing import Any

from archc.codegen.containers import class_name, name_containers
from archc.codegen.deferred_init import deferred_weight_init, finish
from archc.codegen.nodemap import NodeMap, attach
from archc.ir.graph import Graph, ValueRef
from archc.ops import OPS, Call, Traits, load_ops


def _fx_name(path: str) -> str:
    name = re.sub(r"[^0-9A-Za-z_]", "_", path)
    return name if not name[:1].isdigit() else "n_" + name


def _set_submodule(root: Any, path: str, module: Any) -> None:
    from archc.ops._seqmodules import parent_module

    parent, name = parent_module(root, path)
    parent.add_module(name, module)


def _set_param(root: Any, path: str, param: Any) -> None:
    import torch.nn as nn

    from archc.ops._seqmodules import parent_module

    parent, name = parent_module(root, path)
    parent.register_parameter(name, param if isinstance(param, nn.Parameter) else nn.Parameter(param))


def _set_buffer(root: Any, path: str, buf: Any, persistent: bool) -> None:
    from archc.ops._seqmodules import parent_module

    parent, name = parent_module(root, path)
    parent.register_buffer(name, buf, persistent=persistent)


def input_dtype_name(graph: Graph) -> str:
    """The dtype parameters take when none is asked for: the one floating dtype of the spec's
    inputs (a float16, bfloat16 or float64 model), else float32. Inputs of several floating
    dtypes keep float32 (their ops say where they disagree). Torch-free."""
    floats = {i.type.dtype for i in graph.inputs.values() if i.type.dtype in ("float16", "bfloat16", "float32", "float64")}
    return floats.pop() if len(floats) == 1 else "float32"


def input_dtype(graph: Graph) -> Any:
    """`input_dtype_name` as a torch dtype, or None for float32 (torch's default)."""
    from archc.codegen.verify import torch_dtype

    name = input_dtype_name(graph)
    return None if name == "float32" else torch_dtype(name)


def lower(graph: Graph, device: Any = None, dtype: Any = None, inplace: bool = True) -> Any:
    """Build the GraphModule. On a real device, weights are initialised from the spec's seed.
    Parameters are in `dtype`, by default the spec's inputs' floating dtype (`input_dtype`).

    `inplace` computes ReLUs and residual sums in place where that is safe (see `_in_place`);
    `archc build` turns it off, so that every node's output stays observable while an artifact's
    intermediates are compared with the module's (the search for the first diverging node).
    """
    import torch
    import torch.fx as fx

    load_ops()
    if dtype is None:
        dtype = input_dtype(graph)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    meta = dev.type == "meta"
    root = torch.nn.Module()
    g = fx.Graph()
    values: dict[ValueRef, fx.Node] = {}
    fx_to_path: dict[str, str] = {}
    module_ops: dict[str, str] = {}         # submodule path -> the op it lowers (read by `_initialise`)
    inplace_fns: dict[fx.Node, Any] = {}    # fx node -> its Call's in-place variant (read by `_in_place`)
    for name in graph.inputs:
        values[ValueRef(name, 0, True)] = g.placeholder(name)
    sizes = _RuntimeSizes(g, graph, values)
    init = graph.init
    rng = torch.random.fork_rng(devices=[]) if not meta else nullcontext()
    defer = not meta and init is not None and init.scheme != "torch"
    with rng, torch.device(dev), deferred_weight_init(defer) as skipped:
        if not meta:
            torch.manual_seed(init.seed if init is not None else 0)
        for n in graph.nodes:
            op = OPS[n.op]
            in_types = graph.operand_types(n)
            lowered = op.lower(n.attrs, in_types, n.outputs if len(n.outputs) > 1 else n.outputs[0])
            # a number operand (`from: [1, x]`) is a constant argument at its position, not a graph input
            args = [values[r] if isinstance(r, ValueRef) else r for r in n.operands()]
            if isinstance(lowered, Call):
                lowered = sizes.materialize(lowered)
                own = []
                for pname, param in lowered.params.items():
                    ppath = n.path if pname == "" else f"{n.path}.{pname}"
                    _set_param(root, ppath, param)
                    own.append(g.create_node("get_attr", ppath, (), {}, name=_fx_name(ppath) + "_param"))
                for bname, buf in lowered.buffers.items():
                    bpath = n.path if bname == "" else f"{n.path}.{bname}"
                    _set_buffer(root, bpath, buf, lowered.persistent)
                    own.append(g.create_node("get_attr", bpath, (), {}, name=_fx_name(bpath) + "_buffer"))
                call_args = ((list(args),) if lowered.pack_inputs else tuple(args)) + tuple(own) + tuple(lowered.extra_args)
                node = g.create_node("call_function", lowered.fn, call_args, dict(lowered.kwargs), name=_fx_name(n.path))
                if lowered.inplace is not None and not own and not lowered.extra_args and not lowered.pack_inputs:
                    inplace_fns[node] = lowered.inplace
            else:
                _set_submodule(root, n.path, lowered)
                module_ops[n.path] = n.op
                node = g.create_node("call_module", n.path, tuple(args), {}, name=_fx_name(n.path))
            fx_to_path[node.name] = n.path
            node.meta["archc_op"] = n.op
            node.meta["archc_type"] = n.outputs[0] if len(n.outputs) == 1 else None
            if len(n.outputs) > 1:
                for k in range(len(n.outputs)):
                    item = g.create_node("call_function", operator.getitem, (node, k), {}, name=_fx_name(f"{n.path}_{k}"))
                    values[ValueRef(n.path, k)] = item
            else:
                values[ValueRef(n.path, 0)] = node
        if not meta and init is not None:
            finish(skipped, _initialise(root, init, module_ops))
    outs = [values[o.ref] for o in graph.outputs.values()]
    g.output(outs[0] if len(outs) == 1 else tuple(outs))
    if inplace:
        _in_place(g, inplace_fns)
    gm = fx.GraphModule(root, g, class_name=class_name(graph.name, "Model"))
    name_containers(gm, graph.scopes)       # block instances print as their block (`Bottleneck`)
    for t in graph.ties:
        _tie(gm, t.param, t.to)
    if dtype is not None:
        gm = gm.to(dtype)
    gm.archc_graph = graph
    attach(gm, NodeMap(fx_to_path))
    gm.eval()
    return gm


class _RuntimeSizes:
    """Symbolic dims in a lowering's arguments (a `reshape` to another node's `H`) become graph nodes
    that compute them from the inputs' sizes at run time: each symbol read once from the first input
    that has it as a dim (`size_H = dim_size(x, 2)`), then the dim's polynomial over them."""

    def __init__(self, g: Any, graph: Graph, values: dict):
        self.g, self.graph, self.values = g, graph, values
        self.cache: dict = {}

    def materialize(self, call: Call) -> Call:
        from dataclasses import replace

        kwargs = {k: self._sub(v) for k, v in call.kwargs.items()}
        extra = tuple(self._sub(v) for v in call.extra_args)
        return replace(call, kwargs=kwargs, extra_args=extra) if (kwargs != call.kwargs or extra != call.extra_args) else call

    def _sub(self, v: Any) -> Any:
        from archc.ir.dims import SymExpr

        if isinstance(v, SymExpr):
            return self.dim(v)
        if isinstance(v, (tuple, list)):
            return type(v)(self._sub(x) for x in v)
        return v

    def _call(self, fn: Any, args: tuple, name: str) -> Any:
        return self.g.create_node("call_function", fn, args, {}, name=name)

    def _op(self, fn: Any, a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int):
            return fn(a, b)   # the helpers are plain int arithmetic
        return self._call(fn, (a, b), "size")

    def symbol(self, name: str) -> Any:
        from archc.ir.dims import equal, sym
        from archc.ops._modules import dim_size

        key = ("sym", name)
        if key not in self.cache:
            src = next(((inp, k) for inp, i in self.graph.inputs.items() for k, d in enumerate(i.type.shape)
                        if equal(d, sym(name))), None)
            if src is None:  # the walk refuses such queries (ARC208): reaching here is a bug
                raise RuntimeError(f"no input has the symbol {name} as a dim, so its size cannot be read")
            self.cache[key] = self._call(dim_size, (self.values[ValueRef(src[0], 0, True)], src[1]), f"size_{name}")
        return self.cache[key]

    def dim(self, d: Any) -> Any:
        from archc.ir.dims import FloorDiv
        from archc.ops._modules import size_add, size_floordiv, size_mul

        if isinstance(d, int):
            return d
        if d in self.cache:
            return self.cache[d]
        total: Any = 0
        for mono, coef in d.terms:
            term: Any = coef
            for atom in mono:
                if isinstance(atom, FloorDiv):
                    a = self._call(size_floordiv, (self.dim(atom.num), atom.den), "size")
                else:
                    a = self.symbol(atom.name)
                term = a if isinstance(term, int) and term == 1 else self._op(size_mul, term, a)
            total = term if isinstance(total, int) and total == 0 else self._op(size_add, total, term)
        self.cache[d] = total
        return total


def _in_place(g: Any, inplace_fns: dict) -> None:
    """Compute an op with `Traits.inplace` (relu, add) in place where its first input `t` is a
    temporary nothing else reads, by calling its lowering's `Call.inplace` (`torch.relu_`, `+=`).

    torchvision's ResNets do this (`ReLU(inplace=True)`, `out += identity`); allocating a new
    tensor for every activation and residual sum costs ~10% of a ResNet-50 forward at batch 8
    (benchmarks/RESULTS.md). `t` is overwritten only when (1) its producer's op has
    `Traits.overwritable` (a convolution, linear layer, norm or add: none keeps its output for the
    backward pass), (2) this node is its only user and it is not a graph output, and (3) the result
    has `t`'s inferred shape and dtype (nothing is broadcast into it). Inputs and parameters are
    never overwritten. `inplace_fns` maps each call node whose lowering offers a `Call.inplace`
    to it; every node carries its op's name in `meta["archc_op"]`.
    """
    import torch

    outputs: set = set()
    for n in g.nodes:
        if n.op == "output":
            torch.fx.node.map_arg(n.args, outputs.add)

    def traits(node: Any) -> Any:
        op = OPS.get(node.meta.get("archc_op", ""))
        return op.traits if op is not None else Traits()

    def temporary(t: Any) -> bool:
        if not isinstance(t, torch.fx.Node) or len(t.users) != 1 or t in outputs:
            return False
        return t.op in ("call_module", "call_function") and traits(t).overwritable

    for n in list(g.nodes):
        fn = inplace_fns.get(n)
        if fn is None or not n.args or n.kwargs or not traits(n).inplace:
            continue
        a = n.args[0]
        if temporary(a) and a.meta.get("archc_type") is not None and a.meta.get("archc_type") == n.meta.get("archc_type"):
            n.target = fn


def _tie(gm: Any, param: str, to: str) -> None:
    mod_path, _, pname = param.rpartition(".")
    src = gm.get_parameter(to)
    setattr(gm.get_submodule(mod_path), pname, src)


def trunc_normal_(w: Any, std: float, a: float, b: float, mean: float = 0.0) -> Any:
    """A normal(mean, std) truncated to [a, b], drawn in place by the inverse CDF: one uniform draw
    over [cdf(a), cdf(b)] mapped through erfinv (the method of timm's `trunc_normal_` and of torch
    before 2.9). torch's own `nn.init.trunc_normal_` now redraws rejected values over the whole
    tensor until none is left, about 8x the work: on vit_b_16 it was 80% of `archc.compile`.
    The same distribution, so a spec's weights are as likely; not the same numbers for a seed."""
    import math

    import torch

    def cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)
    with torch.no_grad():
        w.uniform_(2 * lo - 1, 2 * hi - 1)
        w.erfinv_()
        w.mul_(std * math.sqrt(2.0)).add_(mean)
        w.clamp_(min=a, max=b)
    return w


def _initialise(root: Any, init: Any, module_ops: dict[str, str]) -> set[int]:
    """Apply the spec's init scheme to the weights of ops with `Traits.init` (conv, linear,
    embedding, attention, ...): their params named `weight` or ending in `.weight`, and under
    `bias: zeros` the matching `bias`; norms keep weight 1, bias 0. `module_ops` maps each
    submodule path to its op. Weights are drawn in module order (`root.named_modules()`), each
    op's in `named_parameters()` order, so the same seed gives the same weights. Returns the ids
    of the weights it drew (see `deferred_init`)."""
    import torch.nn as nn

    written: set[int] = set()
    if init.scheme == "torch" and init.bias == "torch":
        return written
    for path, m in root.named_modules():
        op = OPS.get(module_ops.get(path, ""))
        if op is None or not op.traits.init:
            continue
        params = dict(m.named_parameters())
        for name, w in params.items():
            if name != "weight" and not name.endswith(".weight"):
                continue
            if init.scheme == "kaiming_normal":
                nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
            elif init.scheme == "kaiming_uniform":
                nn.init.kaiming_uniform_(w, nonlinearity="relu")
            elif init.scheme == "xavier_uniform":
                nn.init.xavier_uniform_(w)
            elif init.scheme == "xavier_normal":
                nn.init.xavier_normal_(w)
            elif init.scheme == "normal":
                nn.init.normal_(w, std=init.std)
            elif init.scheme == "trunc_normal":
                trunc_normal_(w, std=init.std, a=-2 * init.std, b=2 * init.std)
            if init.scheme != "torch":
                written.add(id(w))
            b = params.get(name[: -len("weight")] + "bias")
            if b is not None and init.bias == "zeros":
                nn.init.zeros_(b)
    return written
