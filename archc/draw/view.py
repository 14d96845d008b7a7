"""What a picture of a graph shows: boxes (ops, collapsed blocks, inputs, outputs), clusters
(expanded blocks) and shape-labelled edges, computed from the typed IR. Renderer-neutral and
torch-free; `dot.py` and `mermaid.py` turn a `View` into text."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from archc.draw.marks import mask_values, own_params, tie_map
from archc.draw.scopes import Scopes, auto_depth, group_repeats, open_repeats, open_wrappers, owner_box, resolve_expand
from archc.errors import UsageError
from archc.ir.dims import shape_str
from archc.ir.graph import Graph, Node, ValueRef, param_key

ANNOTATIONS = ("none", "params", "flops", "all")
RANKDIRS = ("TB", "LR", "BT", "RL")
# attributes worth a word in a box, in this order, when they differ from the op's default
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
    params: int = 0               # parameters it owns (a tied parameter counts at its tie target only)
    tooltip: str = ""
    op: Optional[str] = None      # the op of an op box
    members: int = 1              # repetitions a grouped box stands for ("11 more × encoder_layer")


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
    label: str                    # the symbolic shape of the value carried (a tie: what is tied)
    skip: bool = False            # joins the main path from further back: a skip connection
    kind: str = "data"            # "data" (a tensor), "mask" (read only as an attention mask), "tie" (a shared weight)


@dataclass
class View:
    name: str
    title: str
    items: dict[str, Item] = field(default_factory=dict)
    clusters: dict[str, Cluster] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    annotate: str = "none"
    rankdir: str = "TB"           # layout direction: TB, LR, BT or RL
    legend: bool = True           # draw a legend of the colours, boxes and edge styles used

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


def build_view(graph: Graph, expand: Iterable[str] = (), depth: Optional[int] = None, annotate: str = "none",
               rankdir: str = "TB", legend: bool = True) -> View:
    """The boxes, frames and edges of `graph`: every scope collapsed to one box unless it is in
    `expand` (block names, scope paths or `all`) or at most `depth` levels deep. Without `expand`,
    `depth=None` picks the smallest depth that shows `MIN_BOXES` boxes and opens blocks that hold a
    repeat; `depth=0` opens nothing. An open repeat shows its first repetition open and the
    collapsed rest as one box (`11 more × encoder_layer`)."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"unknown rankdir {rankdir!r}; choose one of {', '.join(RANKDIRS)}")
    sc = Scopes(graph)
    expand = [e for e in expand if e.strip()]
    auto = depth is None and not expand
    if depth is None:
        depth = 0 if expand else auto_depth(sc, graph)
    expanded = resolve_expand(sc, expand, depth)
    if auto:
        expanded = open_wrappers(sc, expanded)
    expanded = open_repeats(sc, expanded)
    groups = group_repeats(sc, expanded)
    group_members: dict[str, list[str]] = {}
    for r, gid in groups.items():
        group_members.setdefault(gid, []).append(r)
    note = _Notes(graph, sc, annotate)
    tied, node_ties = tie_map(graph)

    def owner(node_path: str) -> str:
        return owner_box(sc, expanded, node_path, groups)

    def frame_of(box: str) -> str:
        """The expanded scope a box is drawn in."""
        if box in group_members:
            return sc.parent[group_members[box][0]]
        return sc.parent[box] if box in sc.scopes else sc.node_scope[box]

    title = graph.name + (f" ({graph.variant})" if graph.variant and graph.variant != graph.name else "")
    title += note.title()
    view = View(graph.name, title, annotate=annotate, rankdir=rankdir, legend=legend)

    # inputs first, then boxes in order of their first node, then outputs
    for k, gi in enumerate(graph.inputs.values()):
        view.items[f"input:{gi.name}"] = Item(
            f"input:{gi.name}", "input", [gi.name, f"{shape_str(gi.type.shape)} {gi.type.dtype}"], "", -len(graph.inputs) + k,
            tooltip=f"input {gi.name}: {shape_str(gi.type.shape)} {gi.type.dtype}")
    scope_params: dict[str, int] = {}
    scope_first: dict[str, int] = {}
    for k, n in enumerate(graph.nodes):
        for s in sc.chain(sc.node_scope[n.path]):
            scope_params[s] = scope_params.get(s, 0) + own_params(n, tied)
            scope_first.setdefault(s, k)
    for k, n in enumerate(graph.nodes):
        box = owner(n.path)
        if box in view.items:
            continue
        parent = frame_of(box)
        if box == n.path:
            brief, name = _brief(n), _rel(n.path, parent)
            own = own_params(n, tied)
            lines = [name] if name == n.op and not brief else [name, n.op + (f" {brief}" if brief else "")]
            lines += [f"{p} tied to {to}" for p, to in node_ties.get(n.path, [])]
            lines += note.box(n.path, own)
            view.items[box] = Item(box, "op", lines, parent, k, family=_family(n.op), params=own, op=n.op,
                                   tooltip="\n".join(x for x in (n.path, f"{n.op} -> {', '.join(shape_str(t.shape) for t in n.outputs)}", _where(n)) if x))
        elif box in group_members:
            members = group_members[box]
            block = _scope_kind(sc, members[0], graph)
            kids = sc.kids(parent)
            opened = any(q in expanded for q in kids[:kids.index(members[0])])  # after an open one: "more"
            params = sum(scope_params.get(m, 0) for m in members)
            lines = [f"{_rel(members[0], parent)} … {_rel(members[-1], parent)}",
                     f"{len(members)}{' more' if opened else ''} × {block}"]
            lines += note.box(box, params, members)
            view.items[box] = Item(box, "scope", lines, parent, k, params=params, members=len(members),
                                   tooltip="\n".join(x for x in (f"{members[0]} … {members[-1]}", f"{len(members)} × {block}",
                                                                 _where(sc.scopes[members[0]])) if x))
        else:
            name, kind = _rel(box, parent), _scope_kind(sc, box, graph)
            lines = [name] if name == kind else [name, kind]
            lines += _holds(sc, box, graph)
            lines += note.box(box, scope_params.get(box, 0))
            if len(lines) < 2:
                lines += _contents(sc, box)
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
    masks = mask_values(graph)

    def add_edge(ref: ValueRef, dst: str) -> None:
        src = f"input:{ref.node}" if ref.is_input else owner(ref.node)
        if src != dst and (ref, dst) not in seen:
            seen.add((ref, dst))
            view.edges.append(Edge(src, dst, shape_str(graph.type_of(ref).shape), kind="mask" if ref in masks else "data"))

    for n in graph.nodes:
        for ref in n.inputs:
            add_edge(ref, owner(n.path))
    for o in graph.outputs.values():
        add_edge(o.ref, f"output:{o.name}")
    _mark_skips(view)
    holder = {param_key(n.path, k): n.path for n in graph.nodes for k in n.params}
    for t in graph.ties:
        if t.param in holder and t.to in holder:
            src, dst = owner(holder[t.to]), owner(holder[t.param])
            if src != dst:
                view.edges.append(Edge(src, dst, "tied weight", kind="tie"))
    return view


def _mark_skips(view: View) -> None:
    """Into a box with several incoming edges, those from the deepest sources (the longest path from
    the inputs) are the main path and the ones from shallower sources are skip connections. So a
    residual `add` is reached by its branch in line and by a dashed shortcut, U-Net's concatenations
    by dashed skips from the contracting path, while GPT-2's token + position embedding sum has two
    solid edges. Edges into outputs and masks are never skips, nor edges from a box that reads
    nothing (a `param` or `constant`: an operand, not a shortcut)."""
    incoming: dict[str, list[Edge]] = {}
    for e in view.edges:
        if e.kind == "data":
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
            src = view.items.get(e.src)
            reads_nothing = src is not None and src.kind != "input" and not incoming.get(e.src)
            e.skip = deep(e.src) < main and not reads_nothing


class _Notes:
    """`--annotate`: parameter counts (from the IR) and FLOPs (from `archc.profile`'s static
    counts at the symbols' example sizes) for boxes, frames and the title."""

    def __init__(self, graph: Graph, sc: Scopes, annotate: str):
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

    def box(self, path: str, params: int, members: Sequence[str] = ()) -> list[str]:
        """The annotation line of a box (or of a group of repetitions: their sums)."""
        parts = []
        if self.params and params:
            parts.append(f"{fmt_count(params)} params")
        flops = sum(self.flops.get(m, 0) for m in (members or [path])) if self.flops is not None else 0
        if flops:
            parts.append(fmt_flops(flops))
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


def _scope_kind(sc: Scopes, path: str, graph: Graph) -> str:
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


def _holds(sc: Scopes, path: str, graph: Graph) -> list[str]:
    """What a collapsed block hides that the reader should see: the repeats directly inside it
    (`12 × encoder_layer` for ViT's `encoder` drawn at --depth 0)."""
    if sc.scopes[path].kind != "block":
        return []
    reps = [_scope_kind(sc, k, graph) for k in sc.kids(path) if sc.scopes[k].kind == "repeat"]
    return reps[:2] + ([f"+{len(reps) - 2} more repeats"] if len(reps) > 2 else [])


def _contents(sc: Scopes, path: str) -> list[str]:
    """For a box that would say only its name (an instance named as its block, no repeats inside:
    a VAE's `mid_block`), the blocks it holds."""
    inner = [k[len(path) + 1:] for k in sc.kids(path)]
    return [", ".join(inner[:3]) + (f" +{len(inner) - 3} more" if len(inner) > 3 else "")] if inner else []
