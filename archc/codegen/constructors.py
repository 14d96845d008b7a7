"""The constructor call behind a lowered module, asked of the op's own lowering.

`archc.codegen.pysource` writes each node's module as the call that built it. Rather than guess
that call from the module's attributes, it re-runs the node's lowering (`OPS[op].lower(attrs,
input types, output type)`, on the meta device, so nothing is allocated or initialised) and records
the arguments the lowering passed to the returned module's class: the first `__init__` entered for
that object, whose bound arguments are read from its frame as the call begins.
"""
from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any, Callable

from archc.ir.graph import Graph, Node


@dataclass(frozen=True)
class Construction:
    """`cls(*positional, **keywords)` rebuilds `module`: the required arguments by position (as
    in `nn.Conv2d(3, 64, 7, stride=2)`), the others by keyword; `defaults` holds the keyword
    parameters' default values (a keyword equal to its default need not be written)."""

    module: Any
    cls: type
    positional: tuple
    keywords: tuple[tuple[str, Any], ...]
    defaults: dict[str, Any]


def _bound_arguments(fn: Any, frame: Any) -> tuple[tuple, tuple[tuple[str, Any], ...], dict[str, Any]] | None:
    """(positional, keywords, defaults) of the call of `fn` that `frame` runs, read at its start."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())[1:]  # without self
    local = frame.f_locals
    positional: list[Any] = []
    keywords: list[tuple[str, Any]] = []
    defaults: dict[str, Any] = {}
    star = next((p for p in params if p.kind is p.VAR_POSITIONAL), None)
    star_args = tuple(local.get(star.name, ())) if star is not None else ()
    for p in params:
        if p.name not in local:
            return None
        v = local[p.name]
        if p.kind is p.VAR_POSITIONAL:
            positional.extend(star_args)
        elif p.kind is p.VAR_KEYWORD:
            keywords.extend(dict(v).items())
        elif p.kind is p.POSITIONAL_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and (star_args or p.default is p.empty)):
            positional.append(v)   # required arguments, and any before a non-empty *args, by position
        else:
            keywords.append((p.name, v))
            if p.default is not p.empty:
                defaults[p.name] = p.default
    return tuple(positional), tuple(keywords), defaults


def record_constructions(fn: Callable[[], Any]) -> tuple[Any, dict[int, Construction]]:
    """Run `fn()`; return its result and, for every nn.Module constructed meanwhile (by id), the
    call that constructed it (its outermost `__init__`)."""
    import torch.nn as nn

    found: dict[int, Construction] = {}

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event != "call" or frame.f_code.co_name != "__init__" or not frame.f_code.co_argcount:
            return
        obj = frame.f_locals.get(frame.f_code.co_varnames[0])
        if not isinstance(obj, nn.Module) or id(obj) in found:
            return
        init = next((k.__dict__["__init__"] for k in type(obj).__mro__
                     if getattr(k.__dict__.get("__init__"), "__code__", None) is frame.f_code), None)
        bound = _bound_arguments(init, frame) if init is not None else None
        if bound is not None:
            found[id(obj)] = Construction(obj, type(obj), *bound)

    old = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = fn()
    finally:
        sys.setprofile(old)
    return result, found


def lowered_construction(graph: Graph, node: Node) -> Construction | None:
    """How the lowering of `node` constructs its module (None: it lowers to a function call, or its
    module's constructor call cannot be read)."""
    import torch
    import torch.nn as nn

    from archc.ops import OPS, load_ops

    load_ops()
    op = OPS[node.op]
    in_types = [graph.type_of(r) for r in node.inputs]
    out = node.outputs if len(node.outputs) > 1 else node.outputs[0]
    with torch.device("meta"):
        module, calls = record_constructions(lambda: op.lower(node.attrs, in_types, out))
    if not isinstance(module, nn.Module):
        return None
    c = calls.get(id(module))
    return c if c is not None and c.module is module else None
