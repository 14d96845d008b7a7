"""Pictures of architectures (`archc graph`): blocks as collapsible frames, shapes on edges, skip
connections, masks and tied weights marked, colours by op family, a legend. Torch-free: it reads
the typed IR."""
from archc.draw.dot import to_dot
from archc.draw.legend import Entry, legend_entries
from archc.draw.mermaid import to_mermaid
from archc.draw.render import FORMATS, GraphvizFailed, GraphvizMissing, find_dot, render, write_atomic
from archc.draw.view import ExpandError, View, build_view

__all__ = [
    "FORMATS", "Entry", "ExpandError", "GraphvizFailed", "GraphvizMissing", "View", "build_view", "find_dot",
    "legend_entries", "render", "to_dot", "to_mermaid", "write_atomic",
]
