"""What one node of the IR costs, evaluated at concrete symbol sizes: the generic driver.

Each op states its own cost rule in its registration (`register(..., cost=rule)`, see
`archc.ops._cost`), following the convention in `archc.profile.convention`. This module only calls
`OPS[op].cost(node, in_types, env)` and handles the ops that have no rule: an op registered with
`cost=Uncounted(reason)` is deliberately not counted, and an op with neither (a plugin op that
declares no cost) is reported by `archc profile` as uncounted, with the share of the nodes it
makes up. Nothing is silently zero. A registry test fails if a built-in op has neither.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from archc.ir.types import TensorType
from archc.ops import OPS, Cost, Uncounted
from archc.ops import _builtin  # noqa: F401  (the built-in ops, in their registration order)
from archc.ops._cost import causal_pairs, numel, sizes
from archc.ops.activation import FLOPS_PER_ELEMENT
from archc.profile.convention import CONVENTION

__all__ = ["Cost", "CONVENTION", "aliases", "causal_pairs", "counted", "node_cost", "numel", "shape",
           "uncounted_reason"]

CONVENTION["activations_per_element"] = dict(FLOPS_PER_ELEMENT)
shape = sizes  # the sizes of a tensor type at `env`


def counted(op: str) -> bool:
    """`op` has a cost rule (it is not `Uncounted` and not a plugin op without one)."""
    d = OPS.get(op)
    return d is not None and callable(d.cost)


def uncounted_reason(op: str) -> str | None:
    """The reason `op` was registered with `cost=Uncounted(reason)`; None for any other op."""
    d = OPS.get(op)
    return d.cost.reason if d is not None and isinstance(d.cost, Uncounted) else None


def aliases(op: str) -> bool:
    """The op's output is (a view of) input 0's storage (the memory walk does not allocate for it)."""
    d = OPS.get(op)
    return d is not None and d.traits.aliases


def node_cost(node: Any, in_types: Sequence[TensorType], env: Mapping[str, int]) -> Cost | None:
    """The cost of `node` (its op's rule at `env`), or None when its op is not counted."""
    d = OPS.get(node.op)
    if d is None or not callable(d.cost):
        return None
    return d.cost(node, in_types, env)
