"""The measure stage (`archc profile`): static analysis and, on a measuring device, measurement.

`measure(graph, request)` is the stage of archc.pipeline: the static profile of one elaborated graph
and, on cpu/cuda/mps, its latency and memory. `archc.api.profile` runs the pipeline up to it, once
for the spec and once per `--batch-size` and `--sweep` value, and assembles the rows (see
`archc.report.profile` for the JSON document). Static analysis never imports torch; measuring does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from archc.ir.graph import Graph
from archc.profile.budget import check_memory, measured_sizes
from archc.profile.static import StaticProfile, analyze

MEASURING_DEVICES = ("cpu", "cuda", "mps")


@dataclass
class Request:
    device: str = "meta"                   # meta: static only
    dtype: str | None = None               # float32 / bfloat16 / float16 (None: the spec's)
    warmup: int = 3
    repeats: int = 20
    compile: bool = False
    batch_sizes: list[int] = field(default_factory=list)
    sweep: tuple[str, list[int]] | None = None
    per_node: bool = True
    memory: bool = True
    node_runs: int = 5
    progress: Callable[[str, int, int], None] | None = None   # (phase, done, total) while measuring
    memory_limit: int | None = None        # bytes measuring may allocate (None: a fraction of the machine's memory)

    @property
    def measuring(self) -> bool:
        return self.device.split(":")[0] in MEASURING_DEVICES


@dataclass
class Profile:
    """What the measure stage found for one graph."""

    static: StaticProfile
    measured: dict[str, Any] | None = None  # latency, memory, per-node times (a measuring device only)


def measure(graph: Graph, req: Request) -> Profile:
    """The measure stage: the static profile of GRAPH, and its measurement on `req.device`."""
    static = analyze(graph, dtype=req.dtype)
    if not req.measuring:
        return Profile(static)
    from archc.profile import measure as _m

    check_memory(graph, measured_sizes(graph, req.batch_sizes, req.sweep), "profile", dtype=req.dtype, limit=req.memory_limit)
    _m.check_device(req.device)
    return Profile(static, _m.measure(graph, req.device, req.dtype, warmup=req.warmup, repeats=req.repeats,
                                      compile=req.compile, per_node=req.per_node, memory=req.memory,
                                      node_runs=req.node_runs, progress=req.progress))
