"""`from:` written as Ultralytics YAMLs write it, with layer indexes (`from: -1`, `from: [-1, 6]`):
archc's `from:` names nodes, so an index is an error whose hint names the node it would mean
(-1: the node before; 6: the seventh node of the same list; before the first node, the input).
"""
from __future__ import annotations

from typing import Any

from archc.diagnostics import Diagnostic


def _is_index(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def index_from_path(data: Any, p: tuple) -> tuple | None:
    """The path of the `from:` that P's validation error is about, when that `from:` is an index
    or a list holding one; else None."""
    from archc.spec.load import _get

    if len(p) >= 1 and p[-1] == "from" and _is_index(_get(data, p)):
        return p
    if len(p) >= 2 and p[-2] == "from" and isinstance(p[-1], int) and _is_index(_get(data, p)):
        return p[:-1]
    if len(p) >= 1 and p[-1] == "from" and isinstance(_get(data, p), list) and any(map(_is_index, _get(data, p))):
        return p
    return None


def _names(data: Any, fp: tuple) -> tuple[str | None, list[str], list[str]]:
    """(the node's id, the ids of the list it is in, before it, and after), or Nones where the
    `from:` is not inside a `layers:` list item `{id: {...}}`."""
    from archc.spec.load import _get

    node_path = fp[:-1]                      # (..., layers, i, id)
    if len(node_path) < 3 or not isinstance(node_path[-1], str) or not isinstance(node_path[-2], int):
        return None, [], []
    items = _get(data, node_path[:-2])
    if not isinstance(items, list):
        return None, [], []
    ids = [next(iter(it)) if isinstance(it, dict) and len(it) == 1 else None for it in items]
    i = node_path[-2]
    return node_path[-1], [str(x) if x is not None else "?" for x in ids[:i]], ids


def _inputs(data: Any, fp: tuple) -> list[str]:
    """The names the first node of fp's list reads: the model's or the block's inputs."""
    from archc.spec.load import _get

    list_path = fp[:-3]
    if list_path == ("layers",):
        ins = data.get("inputs") if isinstance(data, dict) else None
        return [str(k) for k in ins] if isinstance(ins, dict) else []
    if len(list_path) == 3 and list_path[0] == "blocks" and list_path[2] == "layers":
        ins = _get(data, ("blocks", list_path[1], "inputs"))
        return [str(k) for k in ins] if isinstance(ins, list) else ["x"]
    return []


def index_from_diagnostic(data: Any, fp: tuple, file: Any) -> Diagnostic:
    """ARC102 for an index in the `from:` at FP, with the hint naming what each index would mean."""
    from archc.spec.load import _describe_context, _get

    value = _get(data, fp)
    nid, before, _ = _names(data, fp)
    inputs = _inputs(data, fp)
    where = _describe_context(data, fp[:-1])
    meant: list[str] = []
    notes: list[str] = []
    for v in (value if isinstance(value, list) else [value]):
        if not _is_index(v):
            meant.append(str(v))
            continue
        name = None
        if nid is not None:
            k = len(before) + v if v < 0 else v
            if 0 <= k < len(before):
                name = before[k]
                where_ = ("the node before" if v == -1 else f"{-v} nodes before") if v < 0 else \
                    ("the first node of the list" if v == 0 else f"node {v} of the list, counting from 0")
                notes.append(f"{v} is `{name}`, {where_}" + (f" `{nid}`" if v < 0 else ""))
            elif k == -1 and inputs:
                name = inputs[0]
                notes.append(f"{v} is the input `{name}`")
            else:
                notes.append(f"{v} is no node before `{nid}`")
        meant.append(name or "?")
    shown = repr(value) if not isinstance(value, list) else "[" + ", ".join(map(str, value)) + "]"
    msg = f"`from` in {where} names nodes, not layer indexes; got {shown}"
    if not notes or all(m == "?" for m, v in zip(meant, value if isinstance(value, list) else [value]) if _is_index(v)):
        hint = "write the names of the nodes to read (`from: [conv1, x]`); without `from`, a node reads the one before it"
    else:
        written = meant[0] if len(meant) == 1 else "[" + ", ".join(meant) + "]"
        hint = f"write `from: {written}` ({'; '.join(notes)})"
        if not isinstance(value, list) and value == -1:
            hint += ", or leave `from` out: a node reads the one before it"
    return Diagnostic("ARC102", msg, file.value_span(fp), hint=hint)
