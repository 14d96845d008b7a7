"""Profiling: static costs (params, MACs, FLOPs, activation memory) per node and block, measured
latency and memory on a device, sweeps and budgets. See `archc.profile.convention` for the
counting convention. Everything but `archc.profile.measure` is torch-free.

The names below are imported on first use, so that `archc.profile.convention` (read by the CLI at
start-up) costs nothing to import."""
from __future__ import annotations

from importlib import import_module
from typing import Any

from archc._callable import make_callable

_LAZY = {"CONVENTION": "costs", "Cost": "costs", "node_cost": "costs", "StaticProfile": "static", "analyze": "static"}
__all__ = sorted(_LAZY)
make_callable(__name__)   # `archc.profile(spec)` is the API's profile command (archc/_callable.py)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"archc.profile.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'archc.profile' has no attribute {name!r}")
