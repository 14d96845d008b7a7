"""The compiled module's node map: which torch.fx node computes which IR node (by spec path).

`archc.codegen.fx.lower` attaches one `NodeMap` to the GraphModule it builds; everything that
relates the module's nodes back to the spec (verification, export, profiling, generated source)
reads it through `node_map(gm)`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterator, Mapping

ATTR = "archc_node_map"


class NoNodeMap(Exception):
    """A module that `archc.codegen.fx.lower` did not build (it carries no node map)."""


@dataclass(frozen=True)
class NodeMap:
    """fx node name -> IR node path (one entry per IR node: the fx node computing its value), and
    the inverse. Immutable; `paths` preserves the graph's order."""

    to_path: Mapping[str, str]
    to_fx: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "to_path", MappingProxyType(dict(self.to_path)))
        inverse = {p: n for n, p in self.to_path.items()}
        if len(inverse) != len(self.to_path):
            raise ValueError("a node map must relate each IR path to one fx node")
        object.__setattr__(self, "to_fx", MappingProxyType(inverse))

    def path(self, fx_name: str) -> str | None:
        """The IR path of the fx node `fx_name` (None: a node archc added, e.g. a getitem)."""
        return self.to_path.get(fx_name)

    def fx_name(self, path: str) -> str | None:
        """The fx node that computes IR node `path`."""
        return self.to_fx.get(path)

    def __contains__(self, fx_name: object) -> bool:
        return fx_name in self.to_path

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_path)

    def __len__(self) -> int:
        return len(self.to_path)

    def __reduce__(self):  # MappingProxyType does not pickle (deepcopy, torch.save of a module)
        return (NodeMap, (dict(self.to_path),))


def attach(gm: Any, nodes: NodeMap) -> None:
    """Set the node map of `gm` (what `lower` does; also after copying or casting a module)."""
    setattr(gm, ATTR, nodes)


def node_map(gm: Any) -> NodeMap:
    """The node map of a module built by `archc.codegen.fx.lower`; raises NoNodeMap otherwise."""
    nm = getattr(gm, ATTR, None)
    if not isinstance(nm, NodeMap):
        raise NoNodeMap(f"{type(gm).__name__} carries no archc node map: it was not built by archc.codegen.fx.lower "
                        "(archc.compile)")
    return nm
