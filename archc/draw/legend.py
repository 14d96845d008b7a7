"""What a picture's legend says: one entry per colour family, kind of box and line style that the
picture uses, in words. Renderer-neutral; `dot.py` and `mermaid.py` draw the swatches."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from archc.draw.view import View

MAX_OPS = 3  # ops named beside a colour family


@dataclass(frozen=True)
class Entry:
    kind: str                     # "family" | "scope" | "frame" | "io" | "data" | "skip" | "mask" | "tie"
    text: str
    family: Optional[str] = None  # the colour family of a "family" entry (None: unregistered ops)


def legend_entries(view: View) -> list[Entry]:
    """The legend of `view`: only what it draws, families in order of first appearance."""
    ops: dict[Optional[str], list[str]] = {}
    kinds = {i.kind for i in view.items.values()}
    for it in sorted(view.items.values(), key=lambda i: i.order):
        if it.kind == "op":
            names = ops.setdefault(it.family, [])
            if it.op and it.op not in names:
                names.append(it.op)
    out = []
    for fam, names in ops.items():
        shown = ", ".join(names[:MAX_OPS]) + (", …" if len(names) > MAX_OPS else "")
        out.append(Entry("family", f"{fam or 'other'}: {shown}" if shown else fam or "other", fam))
    if "scope" in kinds:
        grouped = any(i.members > 1 for i in view.items.values())
        out.append(Entry("scope", "collapsed block or repeat (N × block)" + ("; N more × block: the other repetitions" if grouped else "")))
    if view.clusters:
        out.append(Entry("frame", "open block or repeat"))
    if kinds & {"input", "output"}:
        out.append(Entry("io", "graph input or output"))
    edges = {e.kind if e.kind != "data" or not e.skip else "skip" for e in view.edges}
    if "data" in edges:
        out.append(Entry("data", "tensor, labelled with its shape"))
    if "skip" in edges:
        out.append(Entry("skip", "skip connection: joins the main path from further back"))
    if "mask" in edges:
        out.append(Entry("mask", "attention mask (not a skip connection)"))
    if "tie" in edges:
        out.append(Entry("tie", "tied weight: one parameter shared, counted once"))
    return out
