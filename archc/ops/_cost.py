"""What an op's cost rule returns, and the helpers rules use to read concrete sizes.

An op states its cost in its registration: `register(..., cost=rule)` with
`rule(node, in_types, env) -> Cost`, where `node` is the IR node (its `attrs`, `outputs`, `out`),
`in_types` its (symbolic) input types and `env` binds every symbol to an int, so a rule reads
sizes with `sizes(t, env)` / `numel(t, env)`. An op that is deliberately not counted registers
`cost=Uncounted("why")`; an op with neither is reported by `archc profile` as uncounted. The
counting convention the rules follow is `archc.profile.convention`.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Callable, Mapping, Sequence

from archc.ir.dims import evaluate
from archc.ir.types import TensorType


@dataclass(frozen=True)
class Cost:
    macs: int = 0
    flops: int = 0
    macs_causal: int | None = None     # None: same as macs
    flops_causal: int | None = None    # None: same as flops
    workspace: int = 0                 # transient elements besides the outputs

    @property
    def mc(self) -> int:
        return self.macs if self.macs_causal is None else self.macs_causal

    @property
    def fc(self) -> int:
        return self.flops if self.flops_causal is None else self.flops_causal


CostRule = Callable[[Any, Sequence[TensorType], Mapping[str, int]], Cost]


@dataclass(frozen=True)
class Uncounted:
    """`register(..., cost=Uncounted(reason))`: the op is deliberately not counted (and says why)."""

    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("Uncounted() needs a reason")


def sizes(t: TensorType, env: Mapping[str, int]) -> tuple[int, ...]:
    """The shape of `t` at the symbols' sizes."""
    return tuple(evaluate(d, env) for d in t.shape)


def numel(t: TensorType, env: Mapping[str, int]) -> int:
    return prod(sizes(t, env))


def size(d: Any, env: Mapping[str, int]) -> int:
    """One (symbolic) dim at the symbols' sizes."""
    return evaluate(d, env)


def ntuple(v: Any, n: int) -> tuple[int, ...]:
    """An int-or-list attribute (`kernel: 3` or `kernel: [3, 1]`) as n ints."""
    return (v,) * n if isinstance(v, int) else tuple(v)


def per_output_element(k: int) -> CostRule:
    """A rule of `k` FLOPs per output element and no MACs (activations, pos_embedding_param)."""

    def rule(node: Any, ins: Sequence[TensorType], env: Mapping[str, int]) -> Cost:
        return Cost(0, k * numel(node.out, env))

    return rule


def no_arithmetic(node: Any, ins: Sequence[TensorType], env: Mapping[str, int]) -> Cost:
    """Data movement (reshape, concat, lookups, identity in eval): 0 MACs, 0 FLOPs."""
    return Cost()


def causal_pairs(T: int, S: int) -> int:
    """(query, key) pairs a causal mask allows, top-left aligned: sum over t < T of min(t + 1, S)."""
    n = min(T, S)
    return n * (n + 1) // 2 + max(0, T - S) * S
