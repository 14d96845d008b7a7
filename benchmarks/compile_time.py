"""Compile time of specs/resnet50.yaml (without and with verification) against building
torchvision.models.resnet50() directly, paired in one process, reported as ratios.

    python benchmarks/compile_time.py [--repeats N]

Not a test: it records numbers (benchmarks/RESULTS.md). Each measurement is the median of N
interleaved runs, so drift on a shared machine affects both sides alike.
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
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    import torch
    import torchvision

    import archc
    from archc.pipeline import Options, run

    spec = str(ROOT / "specs" / "resnet50.yaml")
    torch.set_num_threads(1)
    # warm up imports and caches on both sides
    torchvision.models.resnet50()
    archc.compile(spec)

    rows: dict[str, list[float]] = {k: [] for k in ("reference", "front", "compile", "compile+verify", "meta+verify")}
    for _ in range(args.repeats):
        t = time.perf_counter(); torchvision.models.resnet50(); rows["reference"].append(time.perf_counter() - t)
        t = time.perf_counter(); run(spec, until="check"); rows["front"].append(time.perf_counter() - t)
        t = time.perf_counter(); run(spec, Options(device="cpu", verify=False), until="lower"); rows["compile"].append(time.perf_counter() - t)
        t = time.perf_counter(); run(spec, Options(device="cpu"), until="verify"); rows["compile+verify"].append(time.perf_counter() - t)
        t = time.perf_counter(); run(spec, Options(device="meta"), until="verify"); rows["meta+verify"].append(time.perf_counter() - t)
    ref = statistics.median(rows["reference"])
    print(f"# resnet50 compile time, {args.repeats} interleaved runs, median; torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}, Python {platform.python_version()}, 1 thread")
    print("| what | median s | ratio to torchvision.models.resnet50() |")
    print("| --- | ---: | ---: |")
    labels = {
        "reference": "torchvision.models.resnet50() (reference)",
        "front": "archc load + validate + expand + infer (no torch)",
        "compile": "archc.compile, cpu, no verification",
        "compile+verify": "archc.compile, cpu, with verification",
        "meta+verify": "archc check path: meta device, with verification",
    }
    for k, v in rows.items():
        m = statistics.median(v)
        print(f"| {labels[k]} | {m:.3f} | {m / ref:.2f} |")


if __name__ == "__main__":
    main()
