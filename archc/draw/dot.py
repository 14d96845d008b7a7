"""A `View` as Graphviz DOT text: frames for expanded blocks, colours by op family, dashed red
skip connections, dotted masks and weight ties, shapes on the edges, and a legend of what each
colour and line means. Pure Python; `render.py` runs `dot` for SVG, PNG, PDF and JPEG."""
from __future__ import annotations

import zlib

from archc.draw.legend import legend_entries
from archc.draw.view import Cluster, Edge, Item, View

# fill colours by colour family (an op's `Traits.picture`, by default its `family`); unknown keys
# (plugins) get one from FALLBACK by name
FAMILY_COLORS = {
    "conv": "#cfe2f3",
    "linear": "#d9d2e9",
    "norm": "#fff2cc",
    "activation": "#d9ead3",
    "pool": "#fce5cd",
    "tensor": "#eeeeee",
    "regularize": "#f4cccc",
    "resize": "#d0e0e3",
    "embedding": "#ead1dc",
    "attention": "#f9cb9c",
    "recurrent": "#b6d7a8",
    "param": "#fde9d9",
}
FALLBACK = ("#e6d0de", "#d5e8d4", "#dae8fc", "#ffe6cc", "#f8cecc", "#e1d5e7")
SCOPE_FILL = "#ffffff"
SCOPE_BORDER = "#3c78d8"
IO_FILL = "#f3f3f3"
MAIN_EDGE = "#555555"
SKIP_EDGE = "#c0392b"
MASK_EDGE = "#7f8c8d"
TIE_EDGE = "#8e44ad"


def family_color(family: str | None) -> str:
    if family is None:
        return "#ffffff"
    return FAMILY_COLORS.get(family) or FALLBACK[zlib.crc32(family.encode()) % len(FALLBACK)]


def quote(s: str) -> str:
    """A DOT double-quoted string (newlines become centred line breaks)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**kw: str) -> str:
    return "[" + ", ".join(f"{k}={quote(v)}" for k, v in kw.items()) + "]"


def _item(it: Item) -> str:
    label = "\n".join(it.lines)
    if it.kind == "op":
        a = _attrs(label=label, fillcolor=family_color(it.family), tooltip=it.tooltip)
    elif it.kind == "scope":
        a = _attrs(label=label, shape="box3d", style="filled,bold", fillcolor=SCOPE_FILL, color=SCOPE_BORDER, margin="0.15,0.1",
                   tooltip=it.tooltip)
    else:
        a = _attrs(label=label, shape="oval", style="filled", fillcolor=IO_FILL, tooltip=it.tooltip)
    return f"{quote(it.id)} {a};"


def _edge(e: Edge) -> str:
    if e.kind == "tie":  # beside the layout, not part of it
        extra = f', style=dotted, color="{TIE_EDGE}", fontcolor="{TIE_EDGE}", arrowhead=odot, constraint=false'
    elif e.kind == "mask":
        extra = f', style=dotted, color="{MASK_EDGE}", fontcolor="{MASK_EDGE}"'
    elif e.skip:
        extra = f', style=dashed, color="{SKIP_EDGE}", fontcolor="{SKIP_EDGE}"'
    else:
        extra = ""
    label = ("mask " if e.kind == "mask" else "") + e.label
    return f"  {quote(e.src)} -> {quote(e.dst)} [label={quote(' ' + label)}{extra}];"


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _legend(view: View) -> str:
    """One plain node holding a table: a swatch and a meaning per colour family, box and line
    style that the picture uses."""
    rows = []

    def row(swatch: str, text: str) -> None:
        rows.append(f"<TR>{swatch}<TD ALIGN=\"LEFT\">{_html(text)}</TD></TR>")

    def line(colour: str, glyph: str) -> str:
        return f"<TD><FONT COLOR=\"{colour}\">{glyph}</FONT></TD>"

    for entry in legend_entries(view):
        if entry.kind == "family":
            row(f"<TD BGCOLOR=\"{family_color(entry.family)}\" WIDTH=\"24\"> </TD>", entry.text)
        elif entry.kind == "scope":
            row(f"<TD BGCOLOR=\"{SCOPE_FILL}\" COLOR=\"{SCOPE_BORDER}\" BORDER=\"2\"> </TD>", entry.text)
        elif entry.kind == "frame":
            row("<TD STYLE=\"rounded\" COLOR=\"#7f7f7f\"> </TD>", entry.text)
        elif entry.kind == "io":
            row(f"<TD BGCOLOR=\"{IO_FILL}\" STYLE=\"rounded\"> </TD>", entry.text)
        else:
            colour = {"data": MAIN_EDGE, "skip": SKIP_EDGE, "mask": MASK_EDGE, "tie": TIE_EDGE}[entry.kind]
            row(line(colour, {"data": "&#8212;&#8212;&gt;", "skip": "- - &gt;"}.get(entry.kind, "&#183; &#183; &gt;")), entry.text)
    table = ('<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="2" CELLPADDING="3">'
             '<TR><TD COLSPAN="2" BORDER="0"><B>legend</B></TD></TR>' + "".join(rows) + "</TABLE>")
    return f'  "legend:" [shape=plaintext, style="", margin=0, fontsize=9, label=<{table}>];'


def to_dot(view: View) -> str:
    out = [
        f"digraph {quote(view.name)} {{",
        f"  graph [rankdir={view.rankdir}, labelloc=t, fontname=\"Helvetica\", fontsize=14, nodesep=0.3, ranksep=0.35, "
        f"label={quote(view.title)}];",
        "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10, margin=\"0.12,0.04\"];",
        f"  edge [fontname=\"Helvetica\", fontsize=8, color=\"{MAIN_EDGE}\", fontcolor=\"#333333\", arrowsize=0.6];",
    ]

    def emit(parent: str, indent: str) -> None:
        for child in view.children(parent):
            if isinstance(child, Item):
                out.append(indent + _item(child))
            else:
                assert isinstance(child, Cluster)
                out.append(f"{indent}subgraph {quote('cluster_' + child.path)} {{")
                out.append(f"{indent}  graph {_attrs(label=child.label, style='rounded,dashed', color='#7f7f7f', fontsize='11', labeljust='l', tooltip=child.path)};")
                emit(child.path, indent + "  ")
                out.append(indent + "}")

    emit("", "  ")
    for e in view.edges:
        out.append(_edge(e))
    if view.legend:
        out.append(_legend(view))
    out.append("}")
    return "\n".join(out) + "\n"
