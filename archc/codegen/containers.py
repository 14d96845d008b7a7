"""The classes of the compiled module's containers, named after what they are in the spec: a block
instance is an instance of a class named after its block (`bottleneck` -> `Bottleneck`), a
`repeat:` is a `Repeat`, a `seq` a `Seq`, so `print(model)` reads like the spec (torchvision's
prints `Bottleneck`, where a plain container prints `Module`). A container has no forward of its
own: the GraphModule's forward calls the leaf modules directly.

The classes are created once per name and live in this module's namespace, so they pickle and
deep-copy like any class, and modules of one block share one class (TorchScript shares their type).
"""
from __future__ import annotations

import re
import sys
from typing import Any

KIND_CLASS = {"repeat": "Repeat", "seq": "Seq"}


def class_name(name: str, prefix: str = "Block") -> str:
    """A spec name as a class name: `bottleneck` -> `Bottleneck`, `tiny_resnet` -> `TinyResnet`
    (PREFIX before one that would start with a digit)."""
    words = re.split(r"[^0-9A-Za-z]+", name)
    cls = "".join(w[:1].upper() + w[1:] for w in words if w)
    return cls if cls and not cls[0].isdigit() else prefix + cls


def container_class(name: str) -> type:
    """The nn.Module subclass called NAME (created on first use)."""
    import torch.nn as nn

    mod = sys.modules[__name__]
    attr = f"_{name}" if name in ("nn", "re", "sys", "Any", "KIND_CLASS") or not name.isidentifier() else name
    cls = getattr(mod, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        cls = type(name, (nn.Module,), {"__module__": __name__, "__qualname__": attr,
                                        "__doc__": f"A container of the spec: `{name}`."})
        setattr(mod, attr, cls)
    return cls


def is_container(m: Any) -> bool:
    """Whether M is one of these containers (no state or forward of its own)."""
    return type(m).__module__ == __name__


def name_containers(root: Any, scopes: Any) -> None:
    """Give each scope's container under ROOT its class (the GraphModule made them plain Modules);
    containers that are not scopes of the spec stay `Module`."""
    import torch.nn as nn

    for path, sc in scopes.items():
        try:
            m = root.get_submodule(path)
        except AttributeError:           # a scope with no weights has no container
            continue
        if type(m) is nn.Module:
            name = class_name(sc.name) if sc.kind == "block" and sc.name else KIND_CLASS.get(sc.kind, "Module")
            m.__class__ = container_class(name)
