"""Pictures of architectures (`archc graph`): blocks as collapsible frames, shapes on edges, skip
connections marked, colours by op family. Torch-free: it reads the typed IR."""
from archc.draw.dot import to_dot
from archc.draw.mermaid import to_mermaid
from archc.draw.render import FORMATS, GraphvizFailed, GraphvizMissing, find_dot, render, write_atomic
from archc.draw.view import ExpandError, View, build_view

__all__ = [
    "FORMATS", "ExpandError", "GraphvizFailed", "GraphvizMissing", "View", "build_view", "find_dot", "render",
    "to_dot", "to_mermaid", "write_atomic",
]
