"""A `View` as a Mermaid flowchart (renders on GitHub and in most Markdown viewers): subgraphs
for expanded blocks, classes by op family, dotted arrows for skip connections."""
from __future__ import annotations

import re

from archc.draw.dot import IO_FILL, SCOPE_BORDER, SCOPE_FILL, family_color
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
    out = ["---", f"title: {_text(view.title)}", "---", "flowchart TB"]
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
    for e in view.edges:
        arrow = "-.->" if e.skip else "-->"
        out.append(f'  {ids(e.src)} {arrow}|"{_text(e.label)}"| {ids(e.dst)}')
    families = {}
    for it in view.items.values():
        if it.kind == "op":
            families[_class(it.family or "other")] = family_color(it.family)
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
