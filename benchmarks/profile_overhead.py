"""The profiler's own overhead, and its latency figure for resnet50 against
`torch.utils.benchmark.Timer` timing torchvision's resnet50 directly (a ratio).

    python benchmarks/profile_overhead.py [--repeats N] [--threads T] [--batch B]

Not a test: it records numbers (benchmarks/RESULTS.md). Rows:

* static analysis: front end + cost rules + liveness walk for resnet50 and GPT-3 175B (meta);
* per-node timing: an fx.Interpreter forward against the plain forward (the ratio is the
  Interpreter's overhead; the per-node figures include it);
* CPU peak-memory measurement: one profiled forward (torch.profiler memory timeline) against a
  plain forward;
* latency: `archc.profile.measure` (median of N timed forwards after warm-up) on the spec's module
  against `torch.utils.benchmark.Timer(...).blocked_autorange()` median on
  `torchvision.models.resnet50()`, both at the same batch size, threads and input, eval mode,
  inference_mode; the two are run alternately, three rounds, and the medians of the rounds reported.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import torch
    import torch.utils.benchmark as tb
    import torchvision

    from archc.pipeline import Options, run
    from archc.profile import analyze
    from archc.profile.measure import build, measure, peak_memory, per_node_times

    torch.set_num_threads(args.threads)
    spec = str(ROOT / "specs" / "resnet50.yaml")
    gpt3 = str(ROOT / "specs" / "gpt3_175b.yaml")

    def static_time(path: str, ov: dict) -> float:
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            g = run(path, Options(ov, None, None)).graph
            analyze(g)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    run(spec)  # warm imports
    t_static = static_time(spec, {"B": args.batch})
    t_static_gpt3 = static_time(gpt3, {})
    g = run(spec, Options({"B": args.batch})).graph

    gm, inputs = build(g, "cpu", None)
    x = next(iter(inputs.values()))
    ref = torchvision.models.resnet50().eval()
    ours_ms, ref_ms = [], []
    with torch.inference_mode():
        for _ in range(args.rounds):
            m = measure(g, "cpu", None, warmup=3, repeats=args.repeats, per_node=False, memory=False)
            ours_ms.append(m["latency_ms"]["median"])
            timer = tb.Timer("m(x)", globals={"m": ref, "x": x}, num_threads=args.threads)
            ref_ms.append(timer.blocked_autorange(min_run_time=max(1.0, args.repeats * ours_ms[-1] / 1e3)).median * 1e3)
        # the same module timed by Timer too: isolates the timing method from the module
        timer = tb.Timer("m(x)", globals={"m": gm, "x": x}, num_threads=args.threads)
        gm_timer_ms = timer.blocked_autorange(min_run_time=1.0).median * 1e3
        plain = statistics.median(_times(lambda: gm(x), 5))
    nodes, interp = per_node_times(gm, inputs, "cpu", 5)
    t = time.perf_counter()
    peak, act, _ = peak_memory(gm, inputs, "cpu")  # includes the profiler's one-time start-up
    t_mem_first = time.perf_counter() - t
    t = time.perf_counter()
    peak_memory(gm, inputs, "cpu")
    t_mem = time.perf_counter() - t

    ours, theirs = statistics.median(ours_ms), statistics.median(ref_ms)
    print(f"# resnet50 B={args.batch} profile overhead; torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"Python {platform.python_version()}, {args.threads} thread(s), {args.rounds} rounds")
    print("| what | value |")
    print("| --- | ---: |")
    print(f"| static profile resnet50 (front end + costs + liveness) | {t_static * 1e3:.0f} ms |")
    print(f"| static profile gpt3_175b (meta, {len(run(gpt3, Options({}, None, None)).graph.nodes)} nodes) | {t_static_gpt3 * 1e3:.0f} ms |")
    print(f"| plain forward (median) | {plain * 1e3:.1f} ms |")
    print(f"| fx.Interpreter forward with per-node timing (median) | {interp * 1e3:.1f} ms ({interp / plain:.3f}x) |")
    print(f"| sum of per-node times | {sum(nodes.values()) * 1e3:.1f} ms |")
    print(f"| CPU peak-memory measurement, first call (profiler start-up) | {t_mem_first:.2f} s |")
    print(f"| CPU peak-memory measurement, later calls | {t_mem * 1e3:.0f} ms ({t_mem / plain:.2f}x a forward) |")
    print(f"| measured peak (weights + activations) | {peak / 2**20:.1f} MiB (activations {act / 2**20:.1f} MiB) |")
    print(f"| archc profile latency, median of rounds | {ours:.2f} ms ({', '.join(f'{v:.2f}' for v in ours_ms)}) |")
    print(f"| torch.utils.benchmark.Timer, torchvision resnet50 | {theirs:.2f} ms ({', '.join(f'{v:.2f}' for v in ref_ms)}) |")
    print(f"| torch.utils.benchmark.Timer, the spec's GraphModule | {gm_timer_ms:.2f} ms |")
    print(f"| ratio archc profile / Timer(torchvision) | {ours / theirs:.3f} |")


def _times(fn, n: int) -> list[float]:
    out = []
    fn()
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


if __name__ == "__main__":
    main()
