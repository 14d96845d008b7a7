"""A `View` as a Mermaid flowchart (renders on GitHub and in most Markdown viewers): subgraphs
for expanded blocks, classes by op family, dotted red arrows for skip connections, dotted grey
arrows for masks, dotted purple links for tied weights, and a legend subgraph."""
from __future__ import annotations

import re

from archc.draw.dot import IO_FILL, MASK_EDGE, SCOPE_BORDER, SCOPE_FILL, SKIP_EDGE, TIE_EDGE, family_color
from archc.draw.legend import legend_entries
from archc.draw.view import Cluster, Item, View


def _text(s: str) -> str:
    """Text inside a quoted Mermaid label: entity codes for the characters Mermaid parses."""
    s = s.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return s.replace("\n", "<br/>")


class _Ids:
    """Mermaid ids: identifier-safe, prefixed (so a node named `end` cannot end a subgraph), unique."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.used: set[str] = set()

    def __call__(self, key: str, prefix: str = "n_") -> str:
        if key not in self.ids:
            base = prefix + re.sub(r"\W", "_", key.split(":", 1)[-1], flags=re.ASCII)
            mid, k = base, 1
            while mid in self.used:
                k += 1
                mid = f"{base}_{k}"
            self.used.add(mid)
            self.ids[key] = mid
        return self.ids[key]


def _class(name: str) -> str:
    return "fam_" + re.sub(r"\W", "_", name, flags=re.ASCII)


def to_mermaid(view: View) -> str:
    ids = _Ids()
    out = ["---", f"title: {_text(view.title)}", "---", f"flowchart {view.rankdir}"]
    classes: dict[str, list[str]] = {}

    def box(it: Item) -> str:
        mid = ids(it.id, {"input": "in_", "output": "out_"}.get(it.kind, "n_"))
        label = f'"{_text(chr(10).join(it.lines))}"'
        if it.kind == "op":
            classes.setdefault(_class(it.family or "other"), []).append(mid)
            return f"{mid}[{label}]"
        if it.kind == "scope":
            classes.setdefault("scope", []).append(mid)
            return f"{mid}[[{label}]]"
        classes.setdefault("io", []).append(mid)
        return f"{mid}([{label}])"

    def emit(parent: str, indent: str) -> None:
        for child in view.children(parent):
            if isinstance(child, Item):
                out.append(indent + box(child))
            else:
                assert isinstance(child, Cluster)
                out.append(f'{indent}subgraph {ids(child.path, "c_")} ["{_text(child.label)}"]')
                out.append(f"{indent}  direction TB")
                emit(child.path, indent + "  ")
                out.append(f"{indent}end")

    emit("", "  ")
    styles = []
    for k, e in enumerate(view.edges):
        arrow, label = ("-.-", e.label) if e.kind == "tie" else ("-.->", "mask " + e.label) if e.kind == "mask" else \
            ("-.->" if e.skip else "-->", e.label)
        out.append(f'  {ids(e.src)} {arrow}|"{_text(label)}"| {ids(e.dst)}')
        colour = TIE_EDGE if e.kind == "tie" else MASK_EDGE if e.kind == "mask" else SKIP_EDGE if e.skip else None
        if colour:
            styles.append(f"  linkStyle {k} stroke:{colour},color:{colour}")
    out += styles
    families = {}
    for it in view.items.values():
        if it.kind == "op":
            families[_class(it.family or "other")] = family_color(it.family)
    if view.legend:
        out += _legend(view, classes)
    for cls in sorted(classes):
        if cls == "scope":
            style = f"fill:{SCOPE_FILL},stroke:{SCOPE_BORDER},stroke-width:2px"
        elif cls == "io":
            style = f"fill:{IO_FILL},stroke:#999999"
        else:
            style = f"fill:{families[cls]},stroke:#888888"
        out.append(f"  classDef {cls} {style}")
        out.append(f"  class {','.join(classes[cls])} {cls}")
    return "\n".join(out) + "\n"


def _legend(view: View, classes: dict[str, list[str]]) -> list[str]:
    """A `legend` subgraph: a box per colour family and kind of box, one note on the line styles."""
    out = ['  subgraph legend ["legend"]', "    direction TB"]
    lines = []
    for k, entry in enumerate(legend_entries(view)):
        mid = f"legend_{k}"
        if entry.kind in ("family", "scope", "io"):
            cls = _class(entry.family or "other") if entry.kind == "family" else entry.kind
            out.append(f'    {mid}["{_text(entry.text)}"]')
            classes.setdefault(cls, []).append(mid)
        elif entry.kind == "frame":
            out.append(f'    {mid}["{_text("frame: " + entry.text)}"]')
        else:
            style = {"data": "solid arrow", "skip": "dotted red arrow", "mask": "dotted grey arrow", "tie": "dotted purple line"}[entry.kind]
            lines.append(f"{style}: {entry.text}")
    if lines:
        out.append(f'    legend_lines["{_text(chr(10).join(lines))}"]')
    out.append("  end")
    return out
