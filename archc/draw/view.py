"""What a picture of a graph shows: boxes (ops, collapsed blocks, inputs, outputs), clusters
(expanded blocks) and shape-labelled edges, computed from the typed IR. Renderer-neutral and
torch-free; `dot.py` and `mermaid.py` turn a `View` into text."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Optional

from archc.errors import UsageError
from archc.ir.dims import shape_str
from archc.ir.graph import Graph, Node, ValueRef

# attributes worth a word in a box, in this order, when they differ from the op's default
ANNOTATIONS = ("none", "params", "flops", "all")
MIN_BOXES = 6  # the default picture opens blocks until it shows this many boxes
BRIEF_ATTRS = ("out", "kernel", "stride", "dim", "start_dim", "heads", "num_heads", "p", "scale_factor", "output_size")


ExpandError = UsageError  # one error class per kind: archc.errors


@dataclass
class Item:
    """One box: an op node, a collapsed scope, a graph input or a graph output."""

    id: str                       # node path, scope path, `input:NAME` or `output:NAME`
    kind: str                     # "op" | "scope" | "input" | "output"
    lines: list[str]              # label lines, first the name
    parent: str                   # the expanded scope holding it ("" at the top)
    order: int                    # definition order (first node): layout and skip detection
    family: Optional[str] = None  # colour family of op boxes (the op's `Traits.picture`)
    params: int = 0
    tooltip: str = ""


@dataclass
class Cluster:
    """An expanded scope: drawn as a frame around its contents."""

    path: str
    label: str
    parent: str
    order: int
    params: int = 0


@dataclass
class Edge:
    src: str
    dst: str
    label: str                    # the symbolic shape of the value carried
    skip: bool = False            # joins the main path from further back: a skip connection


@dataclass
class View:
    name: str
    title: str
    items: dict[str, Item] = field(default_factory=dict)
    clusters: dict[str, Cluster] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    annotate: str = "none"

    def children(self, parent: str) -> list[object]:
        """Items and clusters directly inside `parent` ("" for the top), in definition order."""
        out: list = [i for i in self.items.values() if i.parent == parent]
        out += [c for c in self.clusters.values() if c.parent == parent and c.path != ""]
        return sorted(out, key=lambda x: x.order)


def fmt_count(n: int) -> str:
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


class _Scopes:
    """Parent/child structure of `graph.scopes` (scope paths are dotted module paths)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.scopes = graph.scopes
        self.parent: dict[str, str] = {p: self._enclosing(p) for p in self.scopes}
        self.depth: dict[str, int] = {}
        for p in self.scopes:
            d, q = 1, self.parent[p]
            while q:
                d, q = d + 1, self.parent[q]
            self.depth[p] = d
        self.node_scope: dict[str, str] = {n.path: self._enclosing(n.path) for n in graph.nodes}

    def _enclosing(self, path: str) -> str:
        """The innermost scope strictly containing `path` ("" for none)."""
        parts = path.split(".")
        for k in range(len(parts) - 1, 0, -1):
            p = ".".join(parts[:k])
            if p in self.scopes:
                return p
        return ""

    def chain(self, scope: str) -> list[str]:
        """`scope` and its ancestors, outermost first."""
        out = []
        while scope:
            out.append(scope)
            scope = self.parent[scope]
        return out[::-1]


def _resolve_expand(sc: _Scopes, expand: Iterable[str], depth: int) -> set[str]:
    chosen: set[str] = set()
    names = {s.name for s in sc.scopes.values() if s.name}
    for raw in expand:
        key = raw.strip()
        if not key:
            continue
        if key == "all":
            chosen |= set(sc.scopes)
        elif key in sc.scopes:
            chosen.add(key)
        elif key in names:
            chosen |= {p for p, s in sc.scopes.items() if s.name == key}
        else:
            choices = sorted(names) + sorted(p for p in sc.scopes if sc.depth[p] == 1)
            close = difflib.get_close_matches(key, choices, n=1)
            raise UsageError(
                f"--expand: {key!r} is neither a block name nor a scope of the graph"
                + (f"; did you mean {close[0]!r}?" if close else "")
                + (f" (blocks: {', '.join(sorted(names))})" if names else " (the graph has no blocks)")
            )
    chosen |= {p for p in sc.scopes if sc.depth[p] <= depth}
    for p in list(chosen):  # a scope shows only inside its expanded ancestors
        chosen.update(sc.chain(p))
    return chosen


def _rel(path: str, parent: str) -> str:
    """A box's name inside its frame: the path relative to it, with context for bare indices."""
    if not parent:
        return path
    rel = path[len(parent) + 1:]
    if rel.split(".")[0].isdigit():
        rel = parent.rsplit(".", 1)[-1] + "." + rel
    return rel


def _brief(node: Node) -> str:
    parts = []
    fields = getattr(type(node.attrs), "model_fields", {})
    for k in BRIEF_ATTRS:
        if k not in fields:
            continue
        v = getattr(node.attrs, k)
        if v is None or (not fields[k].is_required() and v == fields[k].default):
            continue
        if isinstance(v, list):
            v = "x".join(str(x) for x in v)
        parts.append(f"{k}={v}")
    text = ", ".join(parts)
    return text if len(text) <= 32 else text[:31] + "…"


def _where(node_or_scope) -> str:
    s = node_or_scope.span
    return f"{s.file}:{s.line}" if s is not None else ""


def _owner(sc: _Scopes, expanded: set[str], node_path: str) -> str:
    """The box a node is drawn in: its outermost collapsed scope, or itself."""
    for s in sc.chain(sc.node_scope[node_path]):
        if s not in expanded:
            return s
    return node_path


def _auto_depth(sc: _Scopes, graph: Graph) -> int:
    """The smallest depth whose picture has at least `MIN_BOXES` boxes (or shows everything), so a
    model wrapped in one block (GPT-2's `transformer`) opens to its parts while ResNet-50 stays
    stem + four stages + head."""
    deepest = max(sc.depth.values(), default=0)
    for depth in range(deepest + 1):
        expanded = {p for p in sc.scopes if sc.depth[p] <= depth}
        if len({_owner(sc, expanded, n.path) for n in graph.nodes}) >= MIN_BOXES:
            return depth
    return deepest


def build_view(graph: Graph, expand: Iterable[str] = (), depth: Optional[int] = None, annotate: str = "none") -> View:
    """The boxes, frames and edges of `graph`: every scope collapsed to one box unless it is in
    `expand` (block names, scope paths or `all`) or at most `depth` levels deep. Without `expand`,
    `depth=None` picks the smallest depth that shows `MIN_BOXES` boxes; `depth=0` opens nothing."""
    sc = _Scopes(graph)
    expand = [e for e in expand if e.strip()]
    if depth is None:
        depth = 0 if expand else _auto_depth(sc, graph)
    expanded = _resolve_expand(sc, expand, depth)
    note = _Notes(graph, sc, annotate)

    def owner(node_path: str) -> str:
        return _owner(sc, expanded, node_path)

    def frame_of(box: str) -> str:
        """The expanded scope a box is drawn in."""
        s = sc.parent[box] if box in sc.scopes else sc.node_scope[box]
        return s

    title = graph.name + (f" ({graph.variant})" if graph.variant and graph.variant != graph.name else "")
    title += note.title()
    view = View(graph.name, title, annotate=annotate)

    # inputs first, then boxes in order of their first node, then outputs
    for k, gi in enumerate(graph.inputs.values()):
        view.items[f"input:{gi.name}"] = Item(
            f"input:{gi.name}", "input", [gi.name, f"{shape_str(gi.type.shape)} {gi.type.dtype}"], "", -len(graph.inputs) + k,
            tooltip=f"input {gi.name}: {shape_str(gi.type.shape)} {gi.type.dtype}")
    scope_params: dict[str, int] = {}
    scope_first: dict[str, int] = {}
    for k, n in enumerate(graph.nodes):
        for s in sc.chain(sc.node_scope[n.path]):
            scope_params[s] = scope_params.get(s, 0) + n.param_count
            scope_first.setdefault(s, k)
    for k, n in enumerate(graph.nodes):
        box = owner(n.path)
        if box in view.items:
            continue
        parent = frame_of(box)
        if box == n.path:
            brief, name = _brief(n), _rel(n.path, parent)
            lines = [name] if name == n.op and not brief else [name, n.op + (f" {brief}" if brief else "")]
            lines += note.box(n.path, n.param_count)
            view.items[box] = Item(box, "op", lines, parent, k, family=_family(n.op), params=n.param_count,
                                   tooltip="\n".join(x for x in (n.path, f"{n.op} -> {', '.join(shape_str(t.shape) for t in n.outputs)}", _where(n)) if x))
        else:
            name, kind = _rel(box, parent), _scope_kind(sc, box, graph)
            lines = [name] if name == kind else [name, kind]
            lines += note.box(box, scope_params.get(box, 0))
            view.items[box] = Item(box, "scope", lines, parent, k, params=scope_params.get(box, 0),
                                   tooltip="\n".join(x for x in (box, kind, _where(sc.scopes[box])) if x))
    for p in sorted(expanded, key=lambda p: scope_first.get(p, 0)):
        if p not in scope_first:
            continue  # a scope without nodes (every member absent)
        parent = sc.parent[p]
        name, kind = _rel(p, parent), _scope_kind(sc, p, graph)
        label = name if name == kind else f"{name}: {kind}"
        label += "".join(f" | {x}" for x in note.box(p, scope_params.get(p, 0)))
        view.clusters[p] = Cluster(p, label, parent, scope_first[p], scope_params.get(p, 0))
    n_nodes = len(graph.nodes)
    for k, o in enumerate(graph.outputs.values()):
        t = graph.type_of(o.ref)
        view.items[f"output:{o.name}"] = Item(
            f"output:{o.name}", "output", [o.name] + ([f"({o.kind})"] if o.kind and o.kind != o.name else []), "", n_nodes + k,
            tooltip=f"output {o.name}: {shape_str(t.shape)} {t.dtype}")

    # edges: one per (value, box that reads it); a value read inside the box it comes from is hidden
    seen: set[tuple] = set()

    def add_edge(ref: ValueRef, dst: str) -> None:
        src = f"input:{ref.node}" if ref.is_input else owner(ref.node)
        if src != dst and (ref, dst) not in seen:
            seen.add((ref, dst))
            view.edges.append(Edge(src, dst, shape_str(graph.type_of(ref).shape)))

    for n in graph.nodes:
        for ref in n.inputs:
            add_edge(ref, owner(n.path))
    for o in graph.outputs.values():
        add_edge(o.ref, f"output:{o.name}")
    _mark_skips(view)
    return view


def _mark_skips(view: View) -> None:
    """Into a box with several incoming edges, those from the deepest sources (the longest path from
    the inputs) are the main path and the ones from shallower sources are skip connections. So a
    residual `add` is reached by its branch in line and by a dashed shortcut, U-Net's concatenations
    by dashed skips from the contracting path, while GPT-2's token + position embedding sum has two
    solid edges. Edges into outputs are never skips."""
    incoming: dict[str, list[Edge]] = {}
    for e in view.edges:
        incoming.setdefault(e.dst, []).append(e)
    depth: dict[str, int] = {}
    deep = lambda box: depth.get(box, 0)  # noqa: E731  (edges go forward in definition order)
    for it in sorted(view.items.values(), key=lambda i: i.order):
        ins = incoming.get(it.id, [])
        depth[it.id] = 1 + max((deep(e.src) for e in ins), default=0)
        if len(ins) < 2 or it.kind == "output":
            continue
        main = max(deep(e.src) for e in ins)
        for e in ins:
            e.skip = deep(e.src) < main


class _Notes:
    """`--annotate`: parameter counts (from the IR) and FLOPs (from `archc.profile`'s static
    counts at the symbols' example sizes) for boxes, frames and the title."""

    def __init__(self, graph: Graph, sc: _Scopes, annotate: str):
        if annotate not in ANNOTATIONS:
            raise ValueError(f"unknown annotation {annotate!r}; choose one of {', '.join(ANNOTATIONS)}")
        self.graph = graph
        self.params = annotate in ("params", "all")
        self.flops: dict[str, int] | None = None
        self.total_flops = 0
        if annotate in ("flops", "all"):
            from archc.profile import analyze

            prof = analyze(graph)
            self.flops = {n.path: n.flops for n in prof.nodes}
            self.flops.update({b.path: b.flops for b in prof.blocks})
            self.total_flops = prof.flops

    def title(self) -> str:
        out = ""
        if self.params:
            out += f" | {fmt_count(self.graph.param_count)} params"
        if self.flops is not None:
            env = ", ".join(f"{k}={v}" for k, v in self.graph.example_env.items())
            out += f" | {fmt_flops(self.total_flops)}" + (f" at {env}" if env else "")
        return out

    def box(self, path: str, params: int) -> list[str]:
        parts = []
        if self.params and params:
            parts.append(f"{fmt_count(params)} params")
        if self.flops is not None and self.flops.get(path):
            parts.append(fmt_flops(self.flops[path]))
        return [", ".join(parts)] if parts else []


def fmt_flops(n: int) -> str:
    for unit, div in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.2f} {unit}FLOPs"
    return f"{n} FLOPs"


def _family(op: str) -> Optional[str]:
    """The colour family of an op's box: its `Traits.picture` (a key of `dot.FAMILY_COLORS`; a
    key not there gets a fallback colour by name). None for an op that is not registered."""
    from archc.ops import load_ops

    d = load_ops().get(op)
    return d.traits.picture if d is not None else None


def _scope_kind(sc: _Scopes, path: str, graph: Graph) -> str:
    """`bottleneck`, `3 × bottleneck`, `seq of 2` ..."""
    s = sc.scopes[path]
    if s.kind == "block":
        return s.name or "block"
    kids = [p for p in sc.scopes if sc.parent[p] == path]
    kids += [n.path for n in graph.nodes if sc.node_scope[n.path] == path]
    if s.kind == "repeat":
        names = {sc.scopes[p].name for p in kids if p in sc.scopes}
        ops = {graph.node(p).op for p in kids if p not in sc.scopes}
        what = next(iter(names)) if len(names) == 1 and not ops else next(iter(ops)) if len(ops) == 1 and not names else "repeat"
        return f"{len(kids)} × {what}"
    return f"seq of {len(kids)}"
