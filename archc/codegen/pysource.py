"""Standalone PyTorch source from a compiled GraphModule: one readable file with no archc import.

The file holds
- the classes and functions archc's lowerings use (`DropPath`, `Attention`, `add_n`, ...), copied
  with `inspect.getsource` together with the module-level helpers they reference;
- one `nn.Module` class named after the spec, whose submodules are named as in the spec (a repeat
  becomes an `nn.ModuleList`, a block instance a `Block` container), so `state_dict()` keys are the
  compiled module's; each node's module is written as the constructor call its op's lowering made
  (`archc.codegen.constructors`), and a module that is not as lowered is restored from its state;
- a `forward` with one line per node, the variable named after the node, and the node's symbolic
  shape as a comment (`# (B, 64, H//4, W//4)`);
- `load(path)`, which builds the model and loads its weights (safetensors) from beside the file.

The forward calls the very functions and modules the GraphModule calls, in the same order, so on
the same device and dtype its outputs are bitwise equal to the compiled module's.
"""
from __future__ import annotations

import inspect
import keyword
import operator
import re
import sys
import types
from typing import Any

from archc.codegen.containers import is_container
from archc.codegen.nodemap import node_map
from archc.ir.dims import dim_str
from archc.ir.graph import Graph

HEADER_IMPORTS = ["import os", "", "import torch", "import torch.nn.functional as F", "from torch import nn"]
_SIMPLE = (int, float, bool, str, type(None))

BLOCK_CLASS = '''class Block(nn.Module):
    """A container of named submodules: a block instance of the spec."""

    def __init__(self, /, **children: nn.Module):
        super().__init__()
        for name, child in children.items():
            self.add_module(name, child)

    def __getitem__(self, name):
        return self._modules[str(name)]
'''

RESTORE_FN = '''def _restore(cls, attrs, params=None, buffers=None, children=None):
    """Rebuild a module that was not built by a constructor call archc can write: plain
    attributes are set, parameters and buffers allocated (their values come from the weights
    file), children attached."""
    m = cls.__new__(cls)
    nn.Module.__init__(m)
    for k, v in attrs.items():
        setattr(m, k, v)
    for k, spec in (params or {}).items():
        m.register_parameter(k, None if spec is None else nn.Parameter(torch.empty(spec[0], dtype=getattr(torch, spec[1]))))
    for k, spec in (buffers or {}).items():
        m.register_buffer(k, None if spec is None else torch.empty(spec[0], dtype=getattr(torch, spec[1])))
    for k, child in (children or {}).items():
        m.add_module(k, child)
    return m
'''


class SourceError(Exception):
    """A module or function that cannot be written as standalone source."""


# ---------------------------------------------------------------------------------------------
# Copying archc's helper classes and functions
# ---------------------------------------------------------------------------------------------


def _is_archc(obj: Any) -> bool:
    return (getattr(obj, "__module__", "") or "").split(".")[0] == "archc"


class _Copier:
    def __init__(self) -> None:
        self.order: list[Any] = []
        self.seen: set = set()
        self.imports: set[str] = set()
        self.consts: dict[str, str] = {}

    def add(self, obj: Any) -> None:
        if id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        mod = sys.modules[obj.__module__]
        g = vars(mod)
        if inspect.isclass(obj):
            for b in obj.__bases__:
                if _is_archc(b):
                    self.add(b)
        for name in sorted(self._names(obj)):
            if name not in g or name == obj.__name__:
                continue
            v = g[name]
            if isinstance(v, types.ModuleType):
                if v.__name__ == name:
                    self.imports.add(f"import {name}")
                elif "." in v.__name__ and v.__name__.rsplit(".", 1)[1] == name:
                    self.imports.add(f"from {v.__name__.rsplit('.', 1)[0]} import {name}")
                else:
                    self.imports.add(f"import {v.__name__} as {name}")
            elif (inspect.isclass(v) or inspect.isfunction(v)) and _is_archc(v):
                self.add(v)
            elif getattr(v, "__module__", None) in ("typing", "typing_extensions") or v in (Any,):
                self.imports.add(f"from typing import {name}")
            elif inspect.isclass(v) or inspect.isfunction(v) or inspect.isbuiltin(v):
                modname = getattr(v, "__module__", None)
                if modname and modname != "builtins":
                    self.imports.add(f"from {modname} import {v.__qualname__}" + ("" if v.__qualname__ == name else f" as {name}"))
            elif isinstance(v, _SIMPLE) or (isinstance(v, tuple) and all(isinstance(x, _SIMPLE) for x in v)):
                self.consts[name] = repr(v)
        self.order.append(obj)

    @staticmethod
    def _names(obj: Any) -> set[str]:
        codes = []
        if inspect.isfunction(obj):
            codes.append(obj.__code__)
        else:
            for v in vars(obj).values():
                f = v.__func__ if isinstance(v, (staticmethod, classmethod)) else v
                if isinstance(f, property):
                    codes.extend(x.__code__ for x in (f.fget, f.fset, f.fdel) if x is not None)
                elif inspect.isfunction(f):
                    codes.append(f.__code__)
        names: set[str] = set()
        while codes:
            c = codes.pop()
            names.update(c.co_names)
            codes.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        return names

    def source(self) -> str:
        parts = []
        for obj in self.order:
            src = inspect.getsource(obj)
            parts.append(f"# copied from {obj.__module__}.{obj.__qualname__}\n{src.rstrip()}\n")
        return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Module constructors
# ---------------------------------------------------------------------------------------------


def _plain_attrs(m: Any) -> dict[str, Any]:
    out = {}
    for k, v in vars(m).items():
        if k.startswith("_") or k == "training":
            continue
        if isinstance(v, _SIMPLE) or (isinstance(v, (tuple, list)) and all(isinstance(x, _SIMPLE) for x in v)):
            out[k] = v
        elif isinstance(v, dict) and all(isinstance(x, _SIMPLE) for x in list(v.keys()) + list(v.values())):
            out[k] = v
    return out


def _same_module(a: Any, b: Any) -> bool:
    if type(a) is not type(b) or repr(a) != repr(b):
        return False
    sa, sb = a.state_dict(), b.state_dict()
    if list(sa) != list(sb) or any(tuple(sa[k].shape) != tuple(sb[k].shape) for k in sa):
        return False
    return _plain_attrs(a) == _plain_attrs(b)


def _lit(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return 'float("nan")'
        if v in (float("inf"), float("-inf")):
            return f'float("{v}")'
    if isinstance(v, tuple):
        return "(" + ", ".join(_lit(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, list):
        return "[" + ", ".join(_lit(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_lit(k)}: {_lit(x)}" for k, x in v.items()) + "}"
    import torch

    if isinstance(v, torch.dtype):
        return str(v)
    if isinstance(v, torch.device):
        return f"torch.device({str(v)!r})"
    if v is None or isinstance(v, (bool, int, str, float)):
        return repr(v)
    raise SourceError(f"cannot write the value {v!r} ({type(v).__name__}) as source")


def _class_ref(cls: type, copier: _Copier) -> str:
    import torch.nn as nn

    if getattr(nn, cls.__name__, None) is cls:
        return f"nn.{cls.__name__}"
    if _is_archc(cls):
        copier.add(cls)
        return cls.__name__
    raise SourceError(f"module class {cls.__module__}.{cls.__qualname__} is neither torch.nn's nor archc's")


class _Ctx:
    def __init__(self, graph: Graph, module_nodes: dict[str, Any]) -> None:
        self.copier = _Copier()
        self.uses_block = False
        self.uses_restore = False
        self.graph = graph
        self.module_nodes = module_nodes  # module path -> the IR node whose lowering built it


def _constructor_call(m: Any, ctx: _Ctx, path: str) -> str | None:
    """The call that built `m`, as the op's lowering made it (see archc.codegen.constructors), when
    `m` is a node's module as lowered and every argument can be written as a literal."""
    from archc.codegen.constructors import lowered_construction

    node = ctx.module_nodes.get(path)
    if node is None:
        return None
    c = lowered_construction(ctx.graph, node)
    if c is None or not (_same_module(m, c.module) and _same_children(m, c.module)):
        return None  # the module was replaced or changed after lowering: restore it as it is
    try:
        args = [_lit(v) for v in c.positional]
        args += [f"{k}={_lit(v)}" for k, v in c.keywords if not (k in c.defaults and _is_default(v, c.defaults[k]))]
    except SourceError:
        return None
    return f"{_class_ref(c.cls, ctx.copier)}({', '.join(args)})"


def _is_default(v: Any, default: Any) -> bool:
    try:
        return type(v) is type(default) and bool(v == default)
    except Exception:  # noqa: BLE001 - an argument without a plain equality is written out
        return False


def _module_expr(m: Any, ctx: _Ctx, indent: int, path: str) -> str:
    import torch.nn as nn

    pad = " " * (indent + 4)
    if type(m) is nn.Module or type(m) is nn.ModuleList or is_container(m):
        children = list(m._modules.items())
        keys = [k for k, _ in children]
        if keys and keys == [str(i) for i in range(len(keys))] and not m._parameters and not m._buffers:
            items = ",\n".join(f"{pad}{_module_expr(c, ctx, indent + 4, f'{path}.{k}')}" for k, c in children)
            return f"nn.ModuleList([\n{items},\n{' ' * indent}])"
        ctx.uses_block = True
        if not children:
            return "Block()"
        items = []
        for k, c in children:
            key = k if k.isidentifier() and not keyword.iskeyword(k) else None
            e = _module_expr(c, ctx, indent + 4, f"{path}.{k}")
            items.append(f"{pad}{key}={e}" if key else f"{pad}**{{{k!r}: {e}}}")
        return "Block(\n" + ",\n".join(items) + f",\n{' ' * indent})"
    call = _constructor_call(m, ctx, path)
    if call is not None:
        return call
    ref = _class_ref(type(m), ctx.copier)
    # generic fallback: attributes, parameters, buffers and children restored one by one
    ctx.uses_restore = True
    attrs = _lit(_plain_attrs(m))
    params = {k: (None if v is None else (tuple(v.shape), str(v.dtype).removeprefix("torch."))) for k, v in m._parameters.items()}
    bufs = {k: (None if v is None else (tuple(v.shape), str(v.dtype).removeprefix("torch."))) for k, v in m._buffers.items()}
    kids = ", ".join(f"{k!r}: {_module_expr(c, ctx, indent + 4, f'{path}.{k}')}" for k, c in m._modules.items() if c is not None)
    return f"_restore({ref}, {attrs}, params={_lit(params)}, buffers={_lit(bufs)}, children={{{kids}}})"


def _same_children(a: Any, b: Any) -> bool:
    return [(k, type(v).__qualname__) for k, v in a.named_modules()] == [(k, type(v).__qualname__) for k, v in b.named_modules()]


# ---------------------------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------------------------


def attr_expr(base: str, path: str) -> str:
    out = base
    for p in path.split("."):
        out += f"[{p}]" if p.isdigit() else (f".{p}" if p.isidentifier() and not keyword.iskeyword(p) else f"._modules[{p!r}]")
    return out


def _fn_expr(fn: Any, ctx: _Ctx) -> str:
    import torch
    from torch.fx.node import _get_qualified_name

    import torch.nn.functional as F

    if _is_archc(fn):
        ctx.copier.add(fn)
        return fn.__name__
    for prefix, ns in (("F", F), ("torch", torch)):
        name = getattr(fn, "__name__", None)
        if name and getattr(ns, name, None) is fn:
            return f"{prefix}.{name}"
    q = _get_qualified_name(fn)
    if q.startswith("torch.nn.functional."):
        return "F." + q[len("torch.nn.functional."):]
    if q.startswith("torch."):
        obj: Any = torch
        try:
            for part in q.split(".")[1:]:
                obj = getattr(obj, part)
        except AttributeError:
            raise SourceError(f"cannot name the function {q}") from None
        return q
    if q.startswith("builtins."):
        return q[len("builtins."):]
    if q in ("_operator.getitem", "operator.getitem"):
        return "operator.getitem"
    if q in ("_operator.iadd", "operator.iadd"):  # archc.codegen.fx's in-place residual sums
        return "operator.iadd"
    raise SourceError(f"the function {q} is neither torch's nor archc's")


def _shape_comment(graph: Graph, path: str | None, index: int | None = None) -> str:
    if path is None:
        return ""
    try:
        node = graph.node(path)
    except KeyError:
        return ""
    outs = node.outputs if index is None else [node.outputs[index]]
    texts = ["(" + ", ".join(dim_str(d) for d in t.shape) + ")" for t in outs]
    return "  # " + ", ".join(texts)


def generate(gm: Any, graph: Graph, *, spec_path: str | None = None, spec_sha256: str | None = None,
             dtype: str = "float32", weights: str = "model.safetensors", archc_version: str = "") -> str:
    """The standalone source of `gm` (raises SourceError when something cannot be written)."""
    import torch.fx as fx

    f2p = node_map(gm).to_path
    module_nodes = {n.target: graph.node(f2p[n.name]) for n in gm.graph.nodes
                    if n.op == "call_module" and n.name in f2p and f2p[n.name] == n.target}
    ctx = _Ctx(graph, module_nodes)
    cls_name = type(gm).__name__ if type(gm).__name__.isidentifier() else "Model"
    if cls_name in ("GraphModule", "Block"):
        cls_name = "Model"
    # __init__
    init_lines = []
    for k, m in gm._modules.items():
        e = _module_expr(m, ctx, 8, k)
        init_lines.append(f"        {attr_expr('self', k)} = {e}" if k.isidentifier() else
                          f"        self.add_module({k!r}, {e})")
    for mod_path, mod in [("", gm)] + [(p, m) for p, m in gm.named_modules() if p]:
        plain = type(mod).__name__ in ("Module", "ModuleList") or is_container(mod)
        own = mod._parameters if mod is gm or plain else {}
        for pname, prm in own.items():
            if prm is None:
                continue
            full = f"{mod_path}.{pname}" if mod_path else pname
            init_lines.append(f"        {attr_expr('self', full)} = nn.Parameter(torch.zeros({_lit(tuple(prm.shape))}))  # loaded from the weights")
        for bname, buf in (mod._buffers.items() if mod is gm or plain else ()):
            if buf is None:
                continue
            owner = attr_expr("self", mod_path) if mod_path else "self"
            dt = str(buf.dtype).removeprefix("torch.")
            if bname in mod._non_persistent_buffers_set:  # not in the weights file: its values are written here
                if buf.numel() > 65536:
                    raise SourceError(f"buffer {mod_path + '.' if mod_path else ''}{bname} has {buf.numel():,} elements, "
                                      "too many to write into the source (it is not in the weights file)")
                init_lines.append(f"        {owner}.register_buffer({bname!r}, torch.tensor({buf.tolist()!r}, dtype=torch.{dt}), persistent=False)")
            else:
                init_lines.append(f"        {owner}.register_buffer({bname!r}, torch.zeros({_lit(tuple(buf.shape))}, dtype=torch.{dt}))  # loaded from the weights")
    for t in graph.ties:
        init_lines.append(f"        {attr_expr('self', t.param)} = {attr_expr('self', t.to)}  # tied (spec line {t.span.line if t.span else '?'})")
    # forward
    names: dict[str, str] = {}
    args = []
    body = []
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            names[n.name] = n.name
            args.append(n.name)
        elif n.op == "get_attr":
            names[n.name] = attr_expr("self", n.target)
        elif n.op in ("call_module", "call_function"):
            a = fx.node.map_arg(n.args, lambda x: _Ref(names[x.name]))
            kw = fx.node.map_arg(n.kwargs, lambda x: _Ref(names[x.name]))
            parts = [_arg(x) for x in a] + [f"{k}={_arg(v)}" for k, v in kw.items()]
            path = f2p.get(n.name)
            if n.op == "call_module":
                call = f"{attr_expr('self', n.target)}({', '.join(parts)})"
                comment = _shape_comment(graph, path)
            elif n.target is operator.getitem:
                call = f"{_arg(a[0])}[{_arg(a[1])}]"
                src = f2p.get(n.args[0].name)
                comment = _shape_comment(graph, src, n.args[1]) if isinstance(n.args[1], int) else ""
            else:
                call = f"{_fn_expr(n.target, ctx)}({', '.join(parts)})"
                comment = _shape_comment(graph, path)
            var = n.name if n.name.isidentifier() and not keyword.iskeyword(n.name) else f"v_{n.name}"
            names[n.name] = var
            where = graph.node(path).span if path and path in _paths(graph) else None
            loc = f"  [{where.file.rsplit('/', 1)[-1]}:{where.line}]" if where and comment else ""
            body.append(f"        {var} = {call}{comment}{loc}")
        elif n.op == "output":
            res = fx.node.map_arg(n.args[0], lambda x: _Ref(names[x.name]))
            outs = ", ".join(graph.outputs)
            body.append(f"        return {_arg(res)}  # {outs}")
    # assemble
    lines = [f'"""{graph.name}: standalone PyTorch generated by archc {archc_version}'.rstrip() + ".",
             "",
             f"Spec: {spec_path or '?'} (sha256 {spec_sha256 or '?'})" + (f", variant {graph.variant}" if graph.variant else "") + ".",
             "Inputs: " + ", ".join(f"{k} ({', '.join(dim_str(d) for d in i.type.shape)}) {i.type.dtype}" for k, i in graph.inputs.items()) + ".",
             "Outputs: " + ", ".join(f"{k} ({', '.join(dim_str(d) for d in graph.type_of(o.ref).shape)})" for k, o in graph.outputs.items()) + ".",
             f"Weights: `{weights}` beside this file (safetensors); `load()` builds the model and loads them.",
             "This file does not import archc.",
             '"""',
             "from __future__ import annotations",
             ""]
    imports = set(ctx.copier.imports)
    if any(".getitem(" in b or "operator." in b for b in body):
        imports.add("import operator")
    std = sorted(i for i in imports if not re.match(r"(import|from) (torch|typing)\b", i))
    typing = sorted(i for i in imports if re.match(r"from typing\b", i))
    torchi = sorted(i for i in imports if re.match(r"(import|from) torch\b", i) and i not in HEADER_IMPORTS)
    lines += sorted(set(["import os"] + std)) + typing + [""] + HEADER_IMPORTS[2:] + torchi + ["", f"DTYPE = torch.{dtype}", ""]
    for k, v in ctx.copier.consts.items():
        lines.append(f"{k} = {v}")
    src = ctx.copier.source()
    if src:
        lines += ["", src]
    if ctx.uses_block:
        lines += ["", BLOCK_CLASS]
    if ctx.uses_restore:
        lines += ["", RESTORE_FN]
    doc = graph.name + (f" ({graph.variant})" if graph.variant else "")
    lines += ["", f"class {cls_name}(nn.Module):", f'    """{doc}, as compiled by archc."""', "",
              "    def __init__(self) -> None:", "        super().__init__()"] + init_lines
    lines += ["", f"    def forward(self, {', '.join(args)}):"] + body
    ties = {t.param: t.to for t in graph.ties}
    lines += ["", "", f"TIES = {_lit(ties)}  # parameter -> the parameter it shares (stored once in the weights)", "", "",
              f"def load(path: str | None = None, device: str = \"cpu\") -> {cls_name}:",
              f'    """Build `{cls_name}` and load its weights (default: `{weights}` beside this file)."""',
              "    from safetensors.torch import load_file",
              "",
              f"    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), {weights!r})",
              f"    model = {cls_name}().to(DTYPE)",
              "    state = load_file(path, device=\"cpu\")",
              "    missing, unexpected = model.load_state_dict(state, strict=False)",
              "    missing = [k for k in missing if k not in TIES]",
              "    if missing or unexpected:",
              "        raise RuntimeError(f\"weights do not match the model: missing {missing}, unexpected {unexpected}\")",
              "    return model.to(device).eval()",
              ""]
    text = "\n".join(lines)
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text


def _paths(graph: Graph) -> set[str]:
    s = getattr(graph, "_archc_paths", None)
    if s is None:
        s = {n.path for n in graph.nodes}
    return s


class _Ref:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _arg(x: Any) -> str:
    if isinstance(x, _Ref):
        return x.name
    if isinstance(x, (list, tuple)):
        inner = ", ".join(_arg(v) for v in x)
        if isinstance(x, list):
            return f"[{inner}]"
        return f"({inner}{',' if len(x) == 1 else ''})"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{_lit(k)}: {_arg(v)}" for k, v in x.items()) + "}"
    return _lit(x)

