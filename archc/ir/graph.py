"""The graph IR: nodes with module paths, typed edges, spans back to the spec, derived constraints.

A printable, torch-free structure. Node paths are module paths (`layer1.0.conv1`), so the lowered
module's `state_dict()` keys read like the spec.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any

from archc.diagnostics import Span
from archc.ir.dims import Derived, SymbolRange, evaluate
from archc.ir.gc_pause import paused
from archc.ir.types import TensorType, scalar_type


class GraphCheckError(Exception):
    """`Graph.check()` found the IR inconsistent; `violations` lists each problem found."""

    def __init__(self, graph: str, violations: list[str]):
        self.violations = list(violations)
        super().__init__(f"graph {graph} is malformed:\n" + "\n".join(f"  - {v}" for v in violations))


def param_key(path: str, name: str) -> str:
    """The state_dict key of a node's parameter: `path.name`, or the node path itself for ""."""
    return path if name == "" else f"{path}.{name}"


@dataclass(frozen=True)
class ValueRef:
    """An edge source: a graph input (`is_input`) or output `index` of the node at `node`."""

    node: str
    index: int = 0
    is_input: bool = False

    def __str__(self) -> str:
        return self.node if self.index == 0 else f"{self.node}[{self.index}]"


@dataclass(frozen=True)
class ConstraintOrigin:
    """Where a symbolic equality (`archc.ir.dims.Constraint`) came from: the node whose shape rule
    required it, what was compared (the rule's words), the input indexes compared (when the rule
    names them), the node's spec span and the node's input edges."""

    node: str                               # module path of the node
    what: str                               # e.g. "concat: input 1 dim 2"
    inputs: tuple[int, int] | None = None
    span: Span | None = None
    in_refs: tuple[ValueRef, ...] = ()


@dataclass
class Node:
    path: str                              # module path, unique in the graph
    op: str
    attrs: Any                             # the op's validated attribute model
    inputs: list[ValueRef]
    outputs: list[TensorType]
    span: Span | None = None               # the node's id in the spec
    attr_spans: dict[str, Span] = field(default_factory=dict)
    block: str | None = None               # innermost block (by name) the node was expanded from
    params: dict[str, tuple[int, ...]] = field(default_factory=dict)
    buffers: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # numbers among the operands (`from: [1, x]`): operand position -> value. `inputs` are the
    # tensor operands in order; the operands are both, merged by position (`operands`)
    scalars: dict[int, int | float] = field(default_factory=dict)

    def operands(self) -> list[ValueRef | int | float]:
        """The operands in `from:` order: tensor inputs (ValueRefs) and numbers."""
        if not self.scalars:
            return list(self.inputs)
        it = iter(self.inputs)
        return [self.scalars[k] if k in self.scalars else next(it) for k in range(len(self.inputs) + len(self.scalars))]

    @property
    def out(self) -> TensorType:
        return self.outputs[0]

    @property
    def param_count(self) -> int:
        return sum(prod(s) for s in self.params.values())


@dataclass
class GraphInput:
    name: str
    type: TensorType
    span: Span | None = None
    range: tuple[int, int] | None = None   # [low, high) of example values for integer inputs


@dataclass
class GraphOutput:
    name: str
    ref: ValueRef
    kind: str | None = None
    span: Span | None = None


@dataclass
class Symbol:
    name: str
    example: int
    range: SymbolRange
    span: Span | None = None


@dataclass
class Scope:
    """A block instance or container (repeat / seq) that becomes a submodule."""

    path: str
    kind: str            # "block", "repeat", "seq"
    name: str | None     # block name for block instances
    span: Span | None = None


@dataclass
class Tie:
    param: str
    to: str
    span: Span | None = None


@dataclass
class Graph:
    name: str
    inputs: dict[str, GraphInput]
    nodes: list[Node]
    outputs: dict[str, GraphOutput]
    symbols: dict[str, Symbol]
    params: dict[str, Any]                 # resolved spec params (after variant and --set)
    variant: str | None = None
    scopes: dict[str, Scope] = field(default_factory=dict)
    constraints: list[Derived] = field(default_factory=list)
    ties: list[Tie] = field(default_factory=list)
    init: Any = None
    spec_file: str | None = None
    reference: Any = None                  # the spec's `reference:` section, config evaluated

    def node(self, path: str) -> Node:
        return self._index()[path]

    def _index(self) -> dict[str, Node]:
        idx = getattr(self, "_idx", None)
        if idx is None or len(idx) != len(self.nodes):
            idx = {n.path: n for n in self.nodes}
            object.__setattr__(self, "_idx", idx)
        return idx

    def type_of(self, ref: ValueRef) -> TensorType:
        if ref.is_input:
            return self.inputs[ref.node].type
        return self._index()[ref.node].outputs[ref.index]

    def operand_types(self, node: Node) -> list[TensorType]:
        """The types of `node`'s operands in `from:` order (a `ScalarType` for each number): what its
        op's shape rule and lowering take."""
        return [self.type_of(r) if isinstance(r, ValueRef) else scalar_type(r) for r in node.operands()]

    @property
    def example_env(self) -> dict[str, int]:
        return {s.name: s.example for s in self.symbols.values()}

    def concrete_shape(self, t: TensorType, env: dict[str, int] | None = None) -> tuple[int, ...]:
        env = self.example_env if env is None else env
        return tuple(evaluate(d, env) for d in t.shape)

    @property
    def param_count(self) -> int:
        """Parameters as torch counts them: tied parameters once."""
        tied = {t.param for t in self.ties}
        total = 0
        for n in self.nodes:
            for k, s in n.params.items():
                if param_key(n.path, k) not in tied:
                    total += prod(s)
        return total

    def state_dict_shapes(self) -> dict[str, tuple[int, ...]]:
        out: dict[str, tuple[int, ...]] = {}
        for n in self.nodes:
            for k, s in n.params.items():
                out[param_key(n.path, k)] = tuple(s)
            for k, s in n.buffers.items():
                out[param_key(n.path, k)] = tuple(s)
        return out

    def check(self) -> None:
        """Verify the IR (like ``torch.fx.Graph.lint()``); raise `GraphCheckError` listing violations.

        Every edge refers to a graph input or an output of an earlier node (so nodes are in
        topological order) and is typed; node paths are unique; every scope lies on the path of
        some node and no node shares a scope's path; nodes carry their spec span; outputs refer
        to defined values.
        """
        with paused():
            self._check()

    def _check(self) -> None:
        bad: list[str] = []

        def ref_ok(ref: ValueRef, where: str, defined: dict[str, Node]) -> None:
            if ref.is_input:
                gi = self.inputs.get(ref.node)
                if gi is None:
                    bad.append(f"{where} reads graph input {ref.node!r}, which does not exist")
                elif not isinstance(gi.type, TensorType):
                    bad.append(f"{where} reads graph input {ref.node!r}, which has no tensor type")
                return
            src = defined.get(ref.node)
            if src is None:
                bad.append(f"{where} reads {ref}, which is not defined before it")
            elif not 0 <= ref.index < len(src.outputs):
                bad.append(f"{where} reads {ref}, but {ref.node} has {len(src.outputs)} output(s)")
            elif not isinstance(src.outputs[ref.index], TensorType):
                bad.append(f"{where} reads {ref}, which has no tensor type")

        defined: dict[str, Node] = {}
        for n in self.nodes:
            if n.path in defined:
                bad.append(f"node {n.path} is defined twice")
            for ref in n.inputs:
                ref_ok(ref, f"node {n.path}", defined)
            if any(not 0 <= k < len(n.inputs) + len(n.scalars) for k in n.scalars):
                bad.append(f"node {n.path} has a number operand at a position past its operands")
            for i, t in enumerate(n.outputs):
                if not isinstance(t, TensorType):
                    bad.append(f"node {n.path} output {i} has no tensor type")
            if n.span is None:
                bad.append(f"node {n.path} has no span")
            if n.path in self.scopes:
                bad.append(f"node {n.path} has the path of a scope")
            defined[n.path] = n
        # every proper dotted prefix of a node path is a scope that contains a node: one pass over
        # the paths (O(total path length)), not a scan of every node per scope
        enclosing: set[str] = set()
        for p in defined:
            i = p.rfind(".")
            while i > 0 and p[:i] not in enclosing:
                enclosing.add(p[:i])
                i = p.rfind(".", 0, i)
        for path in self.scopes:
            if path not in enclosing:
                bad.append(f"scope {path} contains no node")
        for o in self.outputs.values():
            ref_ok(o.ref, f"output {o.name}", defined)
        if bad:
            raise GraphCheckError(self.name, bad)

    def pretty(self) -> str:
        """The printable IR (used for golden files)."""
        from archc.ir.dims import shape_str

        lines = [f"graph {self.name}"]
        for i in self.inputs.values():
            lines.append(f"  input {i.name}: {shape_str(i.type.shape)} {i.type.dtype}")
        for n in self.nodes:
            ins = ", ".join(repr(r) if not isinstance(r, ValueRef) else str(r) for r in n.operands())
            outs = ", ".join(f"{shape_str(t.shape)}" for t in n.outputs)
            attrs = ", ".join(f"{k}={v!r}" for k, v in n.attrs.model_dump().items())
            lines.append(f"  {n.path} = {n.op}({ins}{'; ' + attrs if attrs else ''}) -> {outs}")
        for o in self.outputs.values():
            lines.append(f"  output {o.name} = {o.ref}")
        for c in self.constraints:
            lines.append(f"  requires {c.text}")
        return "\n".join(lines)
