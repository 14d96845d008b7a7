"""Measured profile: latency, per-node latency, peak memory, on cpu, cuda or mps (imports torch).

Method (also in the JSON's `measured.methods`):

* end-to-end latency: the GraphModule's forward under `torch.inference_mode()`, `warmup` calls,
  then `repeats` timed calls (`time.perf_counter`, with `torch.cuda.synchronize()` /
  `torch.mps.synchronize()` before and after each on GPUs); median, quartiles and IQR.
* per node: a `torch.fx.Interpreter` that times every node the same way (median over a few runs).
  Its own overhead is measured and reported: the interpreted run's total against the plain forward
  (`per_node_overhead`); per-node figures include a few microseconds of Python dispatch each, so
  they are exact in their ranking and approximate for tiny ops.
* peak memory, cuda: the caching allocator's `max_memory_allocated()` during one forward, after
  `reset_peak_memory_stats()` (weights and inputs included, as they are allocated before it).
  cpu: torch.profiler with `profile_memory=True` over one forward; its allocation timeline
  (torch.profiler._memory_profiler.MemoryProfile: every CPU allocation and free, including the
  temporaries inside ops) is replayed and its running maximum added to the bytes of the weights,
  buffers and inputs. mps: not available (the MPS allocator keeps no peak).
* `--compile`: `torch.compile(module)`; the first call (compilation) is timed apart; per-node
  figures stay eager.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from typing import Any, Callable

from archc.errors import MissingDependency
from archc.ir.graph import Graph

Progress = Callable[[str, int, int], None]   # (phase, done, total)

TORCH_DTYPES = ("float32", "bfloat16", "float16", "float64")


def check_device(device: str) -> None:
    import torch

    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise MissingDependency(f"device `{device}` is not available: torch {torch.__version__} sees no CUDA GPU "
                                f"(torch.cuda.is_available() is False); use --device cpu or meta")
        if ":" in device and int(device.split(":")[1]) >= torch.cuda.device_count():
            raise MissingDependency(f"device `{device}` is not available: {torch.cuda.device_count()} CUDA device(s)")
    elif device == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise MissingDependency("device `mps` is not available (torch.backends.mps.is_available() is False); "
                                "use --device cpu or meta")
    elif device != "cpu":
        raise ValueError(f"unknown device {device!r}")


def _sync_fn(device: str) -> Callable[[], None]:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.synchronize
    if device == "mps":
        return torch.mps.synchronize
    return lambda: None


def quartiles(xs: list[float]) -> dict:
    xs = sorted(xs)
    if len(xs) >= 2:
        q1, med, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    else:
        q1 = med = q3 = xs[0]
    return {"median": med, "q1": q1, "q3": q3, "iqr": q3 - q1, "min": xs[0], "max": xs[-1], "n": len(xs)}


def time_calls(fn: Callable[[], Any], sync: Callable[[], None], warmup: int, repeats: int,
               progress: Progress | None = None, phase: str = "latency") -> list[float]:
    """Seconds of `repeats` calls of `fn` after `warmup` untimed ones (synchronised on GPUs)."""
    total = warmup + repeats
    out = []
    for i in range(total):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        dt = time.perf_counter() - t0
        if i >= warmup:
            out.append(dt)
        if progress:
            progress(phase, i + 1, total)
    return out


def build(graph: Graph, device: str, dtype: str | None) -> tuple[Any, dict]:
    """The GraphModule on `device` in `dtype` and the example inputs (floats cast to `dtype`)."""
    import torch

    from archc.codegen.fx import lower
    from archc.codegen.verify import example_inputs

    tdt = getattr(torch, dtype) if dtype else None
    gm = lower(graph, device=device, dtype=tdt)
    inputs = example_inputs(graph, device=device)
    if tdt is not None:
        inputs = {k: (v.to(tdt) if v.is_floating_point() else v) for k, v in inputs.items()}
    return gm, inputs


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the profiler's C++ log lines on file descriptor 2 (kineto prints start/stop lines)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _storage_bytes(tensors) -> int:
    seen: set = set()
    total = 0
    for t in tensors:
        try:
            st = t.untyped_storage()
            key = st.data_ptr()
        except Exception:
            continue
        if key in seen:
            continue
        seen.add(key)
        total += st.nbytes()
    return total


def peak_memory(gm: Any, inputs: dict, device: str) -> tuple[int | None, int | None, str]:
    """(peak bytes incl. weights and inputs, peak activation bytes above them, method)."""
    import torch

    args = list(inputs.values())
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        with torch.inference_mode():
            out = gm(*args)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
        del out
        return peak, peak - base, "torch.cuda.max_memory_allocated during one forward"
    if device == "mps":
        return None, None, "not available on mps (the MPS allocator keeps no peak statistic)"
    try:
        from torch.profiler import ProfilerActivity, profile
        from torch.profiler._memory_profiler import Action, MemoryProfile
    except Exception as e:  # pragma: no cover - depends on the torch build
        return None, None, f"unavailable: {type(e).__name__}: {e}"
    base = _storage_bytes(list(gm.parameters()) + list(gm.buffers()) + args)
    try:
        with torch.inference_mode(), _quiet_stderr():
            with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True,
                         with_stack=True) as prof:
                out = gm(*args)
            del out
        timeline = MemoryProfile(prof.profiler.kineto_results).timeline
    except Exception as e:  # the private API moved: say so rather than guess
        return None, None, f"unavailable: torch.profiler memory timeline failed ({type(e).__name__}: {e})"
    cur = top = 0
    for t, action, _key, size in sorted((ev for ev in timeline if ev[0] >= 0), key=lambda ev: ev[0]):
        if action == Action.CREATE:
            cur += size
        elif action == Action.DESTROY:
            cur -= size
        top = max(top, cur)
    return base + top, top, ("torch.profiler (profile_memory) allocation timeline of one forward, replayed: "
                             "running maximum + weights, buffers and inputs")


def per_node_times(gm: Any, inputs: dict, device: str, runs: int) -> tuple[dict[str, float], float]:
    """Median seconds per IR node path over `runs` interpreted forwards, and the median total
    wall time of an interpreted forward."""
    import operator

    import torch
    import torch.fx as fx

    from archc.codegen.nodemap import node_map

    sync = _sync_fn(device)
    fx_to_path = node_map(gm).to_path
    owner: dict[str, str] = {}
    for n in gm.graph.nodes:
        if n.name in fx_to_path:
            owner[n.name] = fx_to_path[n.name]
        elif n.op == "call_function" and n.target is operator.getitem and n.args and getattr(n.args[0], "name", None) in fx_to_path:
            owner[n.name] = fx_to_path[n.args[0].name]
    samples: dict[str, list[float]] = {}
    walls: list[float] = []

    class Timer(fx.Interpreter):
        def run_node(self, n):
            path = owner.get(n.name)
            if path is None:
                return super().run_node(n)
            sync()
            t0 = time.perf_counter()
            r = super().run_node(n)
            sync()
            acc[path] = acc.get(path, 0.0) + time.perf_counter() - t0
            return r

    args = list(inputs.values())
    interp = Timer(gm)
    acc: dict[str, float] = {}
    with torch.inference_mode():
        interp.run(*args)  # warm
        for _ in range(runs):
            acc = {}
            sync()
            t0 = time.perf_counter()
            interp.run(*args)
            sync()
            walls.append(time.perf_counter() - t0)
            for k, v in acc.items():
                samples.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in samples.items()}, statistics.median(walls)


def measure(graph: Graph, device: str, dtype: str | None = None, *, warmup: int = 3, repeats: int = 20,
            compile: bool = False, per_node: bool = True, memory: bool = True, node_runs: int = 5,
            progress: Progress | None = None) -> dict:
    """Build the module on `device` and measure it; see the module docstring for the methods."""
    import torch

    check_device(device)
    gm, inputs = build(graph, device, dtype)
    args = list(inputs.values())
    sync = _sync_fn(device)
    runner = gm
    compile_s = None
    if compile:
        try:
            runner = torch.compile(gm)
            with torch.inference_mode():
                sync()
                t0 = time.perf_counter()
                runner(*args)
                sync()
                compile_s = time.perf_counter() - t0
        except Exception as e:
            raise MissingDependency(f"torch.compile failed on this machine: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None

    def call() -> None:
        runner(*args)

    with torch.inference_mode():
        times = time_calls(call, sync, warmup, repeats, progress, "latency")
    lat = {k: (v * 1e3 if k != "n" else v) for k, v in quartiles(times).items()}
    lat["warmup"] = warmup
    doc: dict[str, Any] = {
        "device": device,
        "device_name": _device_name(device),
        "dtype": dtype or "float32",
        "compile": compile,
        "compile_s": compile_s,
        "threads": torch.get_num_threads(),
        "latency_ms": lat,
        "per_node_ms": None,
        "per_node_overhead": None,
        "peak_memory_bytes": None,
        "activation_peak_bytes": None,
        "methods": {
            "latency": "median and IQR of timed forwards after warm-up, time.perf_counter"
            + (", synchronised" if device != "cpu" else ""),
            "per_node": "torch.fx.Interpreter timing each node (eager), median of runs",
            "memory": None,
        },
    }
    if per_node:
        nodes, wall = per_node_times(gm, inputs, device, node_runs)
        if progress:
            progress("per-node", 1, 1)
        doc["per_node_ms"] = {k: v * 1e3 for k, v in nodes.items()}
        eager = lat["median"] / 1e3
        if compile:  # overhead is against the eager forward
            with torch.inference_mode():
                eager = statistics.median(time_calls(lambda: gm(*args), sync, 1, max(3, node_runs)))
        doc["per_node_overhead"] = {
            "interpreted_ms": wall * 1e3,
            "eager_ms": eager * 1e3,
            "sum_of_nodes_ms": sum(nodes.values()) * 1e3,
            "ratio": wall / eager if eager else None,
        }
    if memory:
        peak, act, method = peak_memory(gm, inputs, device)
        doc["peak_memory_bytes"], doc["activation_peak_bytes"] = peak, act
        doc["methods"]["memory"] = method
        if progress:
            progress("memory", 1, 1)
    return doc


def _device_name(device: str) -> str:
    import platform

    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    if device == "mps":
        return "Apple MPS"
    return platform.processor() or platform.machine()
