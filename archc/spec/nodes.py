"""Typed node objects: what validation hands to elaboration.

A node of `layers:` is an op use (`{op: conv2d, ...}`), a block use (`{block: basic, args: ...}`)
or an inline sequence (`{seq: [...]}`); `node_kind` is the one place that decides which. Values
are as written (a `${...}` expression stays a string): elaboration evaluates them. A node whose
validation failed is an `InvalidNode`: its problems are already reported, and elaboration only
needs its id (for references) and its `from:` (for cycle detection).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Union

NodeKind = Literal["op", "block", "seq"]
KINDS: tuple[NodeKind, ...] = ("op", "block", "seq")
# keys every node may carry, whatever its kind (NodeCommon in archc.spec.models)
COMMON_KEYS = frozenset({"from", "when", "repeat", "repeat_names", "doc"})


def node_kind(body: Any) -> NodeKind | None:
    """The kind of a node body (a mapping of raw data, or a model with those fields): the first
    of `op`, `block`, `seq` it has; None when it has none."""
    if isinstance(body, dict):
        return next((k for k in KINDS if k in body), None)
    return next((k for k in KINDS if hasattr(body, k)), None)


@dataclass(frozen=True)
class NodeBase:
    """What every node has. `given` holds the common keys written in the spec (`when: null` is
    given, and wrong); `path` is the data path of the body in its file, for spans."""

    id: str
    path: tuple
    from_: str | list[str | int | float] | None   # a list may hold numbers and ${...} expressions (operands)
    when: Any
    repeat: Any
    repeat_names: Any
    given: frozenset[str]

    def has(self, key: str) -> bool:
        return key in self.given


@dataclass(frozen=True)
class OpUse(NodeBase):
    op: str
    attrs: dict[str, Any]           # the op's attributes as written (expressions unevaluated)


@dataclass(frozen=True)
class BlockUse(NodeBase):
    block: Any                      # a block name, or an expression naming one
    args: dict[str, Any]


@dataclass(frozen=True)
class SeqUse(NodeBase):
    items: tuple["Node", ...]       # named 0, 1, 2, ...


@dataclass(frozen=True)
class InvalidNode:
    """A node whose problems validation reported; elaboration skips it (its value is poisoned)."""

    id: str
    path: tuple
    from_: str | list[str | int | float] | None


Node = Union[OpUse, BlockUse, SeqUse]
Entry = Union[OpUse, BlockUse, SeqUse, InvalidNode, None]   # None: not one `id: body` mapping


def _refs(v: Any) -> str | list[str | int | float] | None:
    """`from:` as written: a name, or a list of names, numbers and `${...}` expressions (numbers are
    operands of elementwise ops); None when it is neither."""
    if isinstance(v, str):
        return v
    if isinstance(v, list) and all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in v):
        return list(v)
    return None


def ref_names(src: str | list | None) -> list[str]:
    """The node names a `from:` reads directly (not its numbers or expressions), for dependencies."""
    names = [src] if isinstance(src, str) else list(src or ())
    return [n for n in names if isinstance(n, str) and "${" not in n]


def typed_node(nid: str, body: dict, path: tuple) -> Node:
    """A validated node body (raw data) as its typed object."""
    common = dict(id=nid, path=path, from_=_refs(body.get("from")), when=body.get("when"), repeat=body.get("repeat"),
                  repeat_names=body.get("repeat_names"), given=frozenset(k for k in COMMON_KEYS if k in body))
    kind = node_kind(body)
    if kind == "op":
        return OpUse(**common, op=body["op"], attrs={k: v for k, v in body.items() if k not in COMMON_KEYS and k != "op"})
    if kind == "block":
        return BlockUse(**common, block=body["block"], args=dict(body.get("args") or {}))
    items = tuple(typed_node(str(k), item, path + ("seq", k)) for k, item in enumerate(body["seq"]))
    return SeqUse(**common, items=items)


def invalid_node(nid: str, body: Any, path: tuple) -> InvalidNode:
    return InvalidNode(nid, path, _refs(body.get("from")) if isinstance(body, dict) else None)
