"""Compile time of zoo specs against constructing their reference models directly, paired in one
process, reported as ratios: `archc.compile` without verification (the acceptance: within 1.5x of
the reference's constructor), and verification reported separately.

    python benchmarks/compile_time.py [--repeats N] [--models resnet50,vit_b_16,gpt2]

The reference is built from the spec's own `reference:` section (the same config compare uses:
torchvision's resnet50 and vit_b_16, transformers' GPT2LMHeadModel), with its default
initialisation; archc's side is `archc.pipeline.run(spec, until="lower")` on cpu (the weights
drawn by the spec's `init:`), then `verify` on that unit. Not a test: it records numbers
(benchmarks/RESULTS.md). Each measurement is the median of N interleaved runs, so drift on a shared
machine affects both sides alike. 1 thread.
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
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", default="resnet50,vit_b_16,gpt2")
    args = ap.parse_args()

    import torch

    from archc.parity.reference import build_reference
    from archc.pipeline import Options, run

    torch.set_num_threads(1)
    print(f"# compile time, {args.repeats} interleaved runs, median; torch {torch.__version__}, "
          f"Python {platform.python_version()}, 1 thread")
    print("| spec | reference | reference s | front s (no torch) | compile s | ratio | verify s | compile+verify ratio |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.models.split(","):
        spec = str(ROOT / "specs" / f"{name}.yaml")
        graph = run(spec, until="check").graph
        ref = graph.reference.against
        build_reference(ref, graph)                    # warm up imports and caches on both sides
        run(spec, Options(device="cpu"), until="verify")
        rows: dict[str, list[float]] = {k: [] for k in ("reference", "front", "compile", "verify")}
        for _ in range(args.repeats):
            t = time.perf_counter(); build_reference(ref, graph); rows["reference"].append(time.perf_counter() - t)
            t = time.perf_counter(); u = run(spec, until="check"); rows["front"].append(time.perf_counter() - t)
            t = time.perf_counter(); u = run(spec, Options(device="cpu"), until="lower"); rows["compile"].append(time.perf_counter() - t)
            t = time.perf_counter(); run(u, until="verify"); rows["verify"].append(time.perf_counter() - t)
        m = {k: statistics.median(v) for k, v in rows.items()}
        print(f"| {name} | {ref} | {m['reference']:.3f} | {m['front']:.3f} | {m['compile']:.3f} | "
              f"{m['compile'] / m['reference']:.2f} | {m['verify']:.3f} | {(m['compile'] + m['verify']) / m['reference']:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
