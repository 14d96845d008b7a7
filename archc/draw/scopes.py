"""Which scopes a picture opens: the scope tree of a graph, `--expand` and `--depth` resolved, the
default picture's choices (enough boxes, wrappers holding a repeat opened), one repetition opened
per open repeat, and the runs of collapsed repetitions drawn as one box."""
from __future__ import annotations

import difflib
from typing import Iterable

from archc.errors import UsageError
from archc.ir.graph import Graph

MIN_BOXES = 6  # the default picture opens blocks until it shows this many boxes


class Scopes:
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
        self._kids: dict[str, list[str]] = {}
        for p in self.scopes:  # in definition order
            self._kids.setdefault(self.parent[p], []).append(p)

    def kids(self, scope: str) -> list[str]:
        """The scopes directly inside `scope`, in definition order."""
        return self._kids.get(scope, [])

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


def resolve_expand(sc: Scopes, expand: Iterable[str], depth: int) -> set[str]:
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


def owner_box(sc: Scopes, expanded: set[str], node_path: str, groups: dict[str, str] | None = None) -> str:
    """The box a node is drawn in: its outermost collapsed scope (or the group of repetitions that
    scope belongs to), or itself."""
    for s in sc.chain(sc.node_scope[node_path]):
        if s not in expanded:
            return groups.get(s, s) if groups else s
    return node_path


def auto_depth(sc: Scopes, graph: Graph) -> int:
    """The smallest depth whose picture has at least `MIN_BOXES` boxes (or shows everything), so a
    model wrapped in one block (GPT-2's `transformer`) opens to its parts while ResNet-50 stays
    stem + four stages + head."""
    deepest = max(sc.depth.values(), default=0)
    for depth in range(deepest + 1):
        expanded = {p for p in sc.scopes if sc.depth[p] <= depth}
        if len({owner_box(sc, expanded, n.path) for n in graph.nodes}) >= MIN_BOXES:
            return depth
    return deepest


def open_wrappers(sc: Scopes, expanded: set[str]) -> set[str]:
    """The default picture also opens each shown, collapsed block that holds a repeat, so the
    repeat shows as `12 × encoder_layer` (ViT's `encoder`) instead of hiding in a plain box."""
    out = set(expanded)
    for p, s in sc.scopes.items():
        parent = sc.parent[p]
        if s.kind == "repeat" and parent and parent not in out and sc.scopes[parent].kind == "block" \
                and all(q in out for q in sc.chain(sc.parent[parent])):
            out.add(parent)
    return out


def open_repeats(sc: Scopes, expanded: set[str]) -> set[str]:
    """An open repeat none of whose repetitions is open opens its first one: `--expand
    encoder.layers` shows layer 0 and `11 more × encoder_layer`."""
    out = set(expanded)
    for p in expanded:
        if sc.scopes[p].kind != "repeat":
            continue
        kids = sc.kids(p)
        if kids and not any(k in expanded for k in kids):
            out.add(kids[0])
    return out


def group_repeats(sc: Scopes, expanded: set[str]) -> dict[str, str]:
    """Runs of two or more consecutive collapsed repetitions of one block inside an open repeat are
    one box: repetition path -> the group's id (`encoder.layers.encoder_layer_1..encoder_layer_11`)."""
    groups: dict[str, str] = {}
    for p in expanded:
        if sc.scopes[p].kind != "repeat":
            continue
        run: list[str] = []
        for k in sc.kids(p) + [None]:
            if k is not None and k not in expanded and (not run or sc.scopes[k].name == sc.scopes[run[0]].name):
                run.append(k)
                continue
            if len(run) >= 2:
                gid = f"{run[0]}..{run[-1].rsplit('.', 1)[-1]}"
                groups.update({r: gid for r in run})
            run = [k] if k is not None and k not in expanded else []
    return groups
