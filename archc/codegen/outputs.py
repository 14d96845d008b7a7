"""The named outputs of a compiled module with several outputs: a `typing.NamedTuple` per model
(`BertBaseOutputs(last_hidden_state, pooler_output)`), so `out.pooler_output` works and so do
`out[1]`, `a, b = out` and everything that takes a tuple (torch.export, TorchScript, the ONNX
exporter, archc's own verification, comparison and profiling).

The classes live in this module's namespace under a name that spells their fields
(`__qualname__`), so they pickle, and a process that never compiled the model recreates them
on unpickling (`__getattr__` below); `__name__` is the readable one repr shows.
"""
from __future__ import annotations

import keyword
import sys
from typing import Any, NamedTuple

_PREFIX = "Outputs_s"
_names: dict[str, tuple[str, ...]] = {}     # readable class name -> the fields it was first made with


def namable(fields: tuple[str, ...] | list[str]) -> bool:
    """Whether FIELDS can be a NamedTuple's: identifiers, not keywords, not starting with `_`,
    no two alike (spec output names are identifiers; `class` or `_x` are not fields)."""
    return (len(set(fields)) == len(fields) and
            all(f.isidentifier() and not keyword.iskeyword(f) and not f.startswith("_") for f in fields))


def _enc(s: str) -> str:
    return s.replace("_", "_u")


def _qualname(name: str, fields: tuple[str, ...]) -> str:
    return _PREFIX + "_s".join(_enc(x) for x in (name,) + fields)


def _decode(qualname: str) -> tuple[str, tuple[str, ...]] | None:
    if not qualname.startswith(_PREFIX):
        return None
    parts = [p.replace("_u", "_") for p in qualname[len(_PREFIX):].split("_s")]
    return (parts[0], tuple(parts[1:])) if len(parts) >= 2 else None


def outputs_class(name: str, fields: tuple[str, ...] | list[str]) -> type:
    """The NamedTuple class NAME with FIELDS (tensors), made once per (name, fields). A second set
    of fields under one name gets `NAME_2` as its readable name (TorchScript keys types by it)."""
    fields = tuple(fields)
    if not namable(fields):
        raise ValueError(f"not NamedTuple fields: {fields}")
    mod = sys.modules[__name__]
    q = _qualname(name, fields)
    cls = mod.__dict__.get(q)
    if cls is not None:
        return cls
    readable, k = name, 1
    while _names.get(readable, fields) != fields:
        k += 1
        readable = f"{name}_{k}"
    _names[readable] = fields
    import torch

    cls = NamedTuple(readable, [(f, torch.Tensor) for f in fields])
    cls.__module__, cls.__qualname__ = __name__, q
    cls.__doc__ = f"The outputs of `{name.removesuffix('Outputs')}`: {', '.join(fields)}."
    setattr(mod, q, cls)
    try:    # so that a user's own torch.export.save of the module serialises its outputs
        from torch.utils._pytree import _register_namedtuple

        _register_namedtuple(cls, serialized_type_name=f"{__name__}.{q}")
    except (ImportError, ValueError):   # an older torch; archc's pt2 exports a plain tuple anyway
        pass
    return cls


def is_outputs_class(obj: Any) -> bool:
    return isinstance(obj, type) and obj.__module__ == __name__ and obj.__qualname__.startswith(_PREFIX)


def __getattr__(attr: str) -> Any:          # unpickling in a process that has not made the class yet
    dec = _decode(attr)
    if dec is None:
        raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
    return outputs_class(*dec)
