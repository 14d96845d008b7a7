"""Pictures of architectures (`archc graph`): blocks as collapsible frames, shapes on edges, skip
connections marked, colours by op family. Torch-free: it reads the typed IR."""
from archc.graph.dot import to_dot
from archc.graph.mermaid import to_mermaid
from archc.graph.render import FORMATS, GraphvizFailed, GraphvizMissing, find_dot, render, write_atomic
from archc.graph.view import ExpandError, View, build_view

__all__ = [
    "FORMATS", "ExpandError", "GraphvizFailed", "GraphvizMissing", "View", "build_view", "find_dot", "render",
    "to_dot", "to_mermaid", "write_atomic",
]
