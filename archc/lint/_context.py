"""What a rule may read: the elaborated graph (with consumer/producer indexes), the raw spec data
with its spans, and the lint options (the ONNX opset)."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterator

from archc.diagnostics import Span
from archc.ir.graph import Graph, Node, ValueRef
from archc.ops import OPS, Traits
from archc.spec.load import LoadedSpec, SpecFile

# Rules reason about what an op is from its registered traits (`archc.ops.Traits`), never from its
# name: an op that is not registered (or a plugin op that declares nothing) has the default traits
# and matches no rule.
_NO_TRAITS = Traits()


@dataclass
class LintContext:
    file: str                        # display path of the linted file
    spec: LoadedSpec | None          # None when the file could not be loaded
    graph: Graph | None              # None for libraries and when elaboration failed
    opset: int = 18
    library: bool = False
    _consumers: dict | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ raw spec
    @property
    def main(self) -> SpecFile | None:
        return self.spec.main if self.spec is not None else None

    @property
    def data(self) -> Any:
        return self.main.loaded.data if self.main is not None else None

    def key_span(self, path: tuple) -> Span | None:
        return self.main.key_span(path) if self.main is not None else None

    def value_span(self, path: tuple) -> Span | None:
        return self.main.value_span(path) if self.main is not None else None

    # ------------------------------------------------------------------ graph helpers
    @cached_property
    def nodes(self) -> dict[str, Node]:
        return {n.path: n for n in self.graph.nodes} if self.graph is not None else {}

    @cached_property
    def consumers(self) -> dict[tuple[bool, str], list[Node]]:
        """(is_input, name) of a value's producer -> the nodes that take it as an input."""
        out: dict[tuple[bool, str], list[Node]] = {}
        if self.graph is None:
            return out
        for n in self.graph.nodes:
            seen: set[tuple[bool, str]] = set()
            for r in n.inputs:
                key = (r.is_input, r.node)
                if key not in seen:
                    seen.add(key)
                    out.setdefault(key, []).append(n)
        return out

    @cached_property
    def output_refs(self) -> set[tuple[bool, str]]:
        if self.graph is None:
            return set()
        return {(o.ref.is_input, o.ref.node) for o in self.graph.outputs.values()}

    def users(self, node: Node) -> list[Node]:
        return self.consumers.get((False, node.path), [])

    def producer(self, ref: ValueRef) -> Node | None:
        return None if ref.is_input else self.nodes.get(ref.node)

    def producers(self, node: Node) -> Iterator[Node]:
        for r in node.inputs:
            p = self.producer(r)
            if p is not None:
                yield p

    def is_output(self, node: Node) -> bool:
        return (False, node.path) in self.output_refs

    def traits(self, node: Node) -> Traits:
        """The op's registered traits; the defaults (nothing special) for an op that is not registered."""
        op = OPS.get(node.op)
        return op.traits if op is not None else _NO_TRAITS

    def attr(self, node: Node, name: str, default: Any = None) -> Any:
        return getattr(node.attrs, name, default)

    def ancestors(self, node: Node) -> set[str]:
        """Paths of every node upstream of `node` (not itself); graph inputs are not included."""
        seen: set[str] = set()
        stack = list(self.producers(node))
        while stack:
            n = stack.pop()
            if n.path in seen:
                continue
            seen.add(n.path)
            stack.extend(self.producers(n))
        return seen

    def top_span(self, node: Node) -> Span | None:
        """The span of the top-level layer that `node` was expanded from (`body` for `body.3.fc`)."""
        head = node.path.split(".", 1)[0]
        scope = self.graph.scopes.get(head) if self.graph is not None else None
        if scope is not None and scope.span is not None:
            return scope.span
        top = self.nodes.get(head)
        return top.span if top is not None and top.span is not None else node.span

    def attr_span(self, node: Node, name: str) -> Span | None:
        return node.attr_spans.get(name) or node.span
