"""Forward latency of the compiled resnet50, vit_b_16 and gpt2 against their references, CPU, eager,
fp32, batch 1 and 8, paired in one process, reported as ratios (archc / reference).

    python benchmarks/latency.py [--threads N] [--repeats R] [--repeats8 R8] [--models resnet50,vit_b_16,gpt2]
                                 [--seq 128] [--warmup W] [--batches 1,8] [--inplace]

Not a test: it records numbers (benchmarks/RESULTS.md). For each model, archc's GraphModule
(`archc.compile`) and the reference (torchvision resnet50 / vit_b_16; Hugging Face GPT2LMHeadModel,
default configuration, its default attention implementation) are built, the reference's random
weights are mapped into archc's module (the spec's `reference.weights`: GPT-2's Conv1D weights
transposed), and the outputs are required to agree within 1e-4 before anything is timed. Both run
in eval mode under `torch.no_grad()`, fp32, `torch.set_num_threads(N)`. Each sample is one forward;
samples alternate between the modules (A B, then B A, ...), so drift on a shared machine
affects both alike. Reported: median, min and interquartile range of each, and the ratios of the
medians and of the minima.

`--inplace` is a diagnostic: it also times a copy of archc's module rewritten to use in-place
relu/add (as torchvision's ResNet does), interleaved with the other two, to measure what that costs.
"""
from __future__ import annotations

import argparse
import copy
import datetime
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOL = 1e-4
SPECS = {"resnet50": "specs/resnet50.yaml", "vit_b_16": "specs/vit_b_16.yaml", "gpt2": "specs/gpt2.yaml"}
REF_NAMES = {"resnet50": "torchvision resnet50", "vit_b_16": "torchvision vit_b_16",
             "gpt2": "HF GPT2LMHeadModel"}


def build_pair(name: str):
    """(archc module, reference module, make_inputs(batch) -> dict of spec inputs, ref_call)."""
    import torch

    import archc
    from archc.parity.reference import build_reference
    from archc.parity.weights import map_state_dict, mapping_diagnostics

    gm = archc.compile(str(ROOT / SPECS[name]))
    graph = gm.archc_graph
    ref, call = build_reference(graph.reference.against, graph, seed=0)
    target = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    res = map_state_dict(ref.state_dict(), graph.reference.weights, target, ties=[(t.param, t.to) for t in graph.ties])
    problems = mapping_diagnostics(res, "reference", target)
    if res.unmatched_spec or res.unmatched_ref or res.problems or problems:
        raise SystemExit(f"{name}: the reference's weights do not map: {problems}")
    gm.load_state_dict(res.mapped, strict=True)
    gm.eval()
    ref.eval()

    def make_inputs(batch: int, seq: int) -> dict:
        gen = torch.Generator().manual_seed(batch)
        if name == "gpt2":
            return {"input_ids": torch.randint(0, 50257, (batch, seq), generator=gen)}
        return {"image": torch.randn(batch, 3, 224, 224, generator=gen)}

    return gm, ref, call, make_inputs


def inplace_rewrite(gm) -> int:
    """A diagnostic, not part of archc: make `relu` in place and `add` accumulate into its first input
    where that input has no other user (what torchvision's ResNet does with `ReLU(inplace=True)` and
    `out += identity`). Returns the number of nodes rewritten."""
    import torch
    import torch.nn.functional as F

    n_rewritten = 0
    for n in gm.graph.nodes:
        if n.op != "call_function" or not n.args or not hasattr(n.args[0], "users") or len(n.args[0].users) != 1 \
                or n.args[0].op == "placeholder":
            continue
        if n.target is F.relu:
            n.kwargs = {**n.kwargs, "inplace": True}
            n_rewritten += 1
        elif n.target is torch.add and len(n.args) == 2 and not n.kwargs:
            n.target = torch.Tensor.add_
            n_rewritten += 1
    gm.recompile()
    return n_rewritten


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def quantiles(xs: list[float]) -> tuple[float, float, float, float]:
    """(median, min, p25, p75) in ms."""
    xs = sorted(x * 1e3 for x in xs)
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return statistics.median(xs), xs[0], q[0], q[2]


def bench_interleaved(fns: list, repeats: int, warmup: int) -> list[list[float]]:
    """Times of `repeats` rounds; each round calls every function once, the order reversed on
    alternate rounds (A B C, C B A, ...)."""
    for _ in range(warmup):
        for f in fns:
            f()
    times: list[list[float]] = [[] for _ in fns]
    idx = list(range(len(fns)))
    for i in range(repeats):
        for k in (idx if i % 2 == 0 else idx[::-1]):
            t = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - t)
    return times


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=15, help="interleaved rounds at batch 1")
    ap.add_argument("--repeats8", type=int, default=10, help="interleaved rounds at batch 8")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seq", type=int, default=128, help="GPT-2 sequence length")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--models", default="resnet50,vit_b_16,gpt2")
    ap.add_argument("--inplace", action="store_true",
                    help="diagnostic: also time a copy of archc's module rewritten to in-place relu/add "
                         "(see inplace_rewrite), interleaved with the other two")
    args = ap.parse_args()

    import torch
    import torchvision
    import transformers

    torch.set_num_threads(args.threads)
    print(f"# archc vs reference forward latency; {datetime.date.today().isoformat()}; torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}, transformers {transformers.__version__}, Python "
          f"{platform.python_version()}; {torch.get_num_threads()} thread(s) on {os.cpu_count()} CPUs; "
          f"load average at start {_load()}; cpu, eager, fp32, eval, no_grad; GPT-2 sequence length {args.seq}")
    print(f"# samples: {args.repeats} interleaved rounds at batch 1, {args.repeats8} at batch 8, "
          f"after {args.warmup} warm-up calls each; times in ms")
    rows = []
    t_start = time.perf_counter()
    for name in args.models.split(","):
        gm, ref, call, make_inputs = build_pair(name)
        variants = [("archc", gm)]
        if args.inplace:
            gm2 = copy.deepcopy(gm)
            print(f"# --inplace: {inplace_rewrite(gm2)} relu/add nodes of a copy of archc's {name} rewritten "
                  f"to in-place ops")
            variants.append(("archc + in-place relu/add (diagnostic)", gm2))
        for batch in (int(b) for b in args.batches.split(",")):
            inputs = make_inputs(batch, args.seq)
            args_list = list(inputs.values())
            out_name = next(iter(gm.archc_graph.outputs))
            with torch.no_grad():
                want = call(inputs)[out_name]
                diffs = []
                for label, m in variants:
                    d = (_first(m(*args_list)) - want).abs().max().item()
                    if not d <= TOL:
                        raise SystemExit(f"{name} batch {batch}: {label} differs by {d:.3g} (> {TOL:g}); not timing")
                    diffs.append(d)
                del want
                fns = [(lambda m=m: m(*args_list)) for _, m in variants] + [lambda: call(inputs)]
                n = args.repeats if batch == 1 else args.repeats8
                times = bench_interleaved(fns, n, args.warmup)
            qref = quantiles(times[-1])
            for (label, _), t, d in zip(variants, times, diffs):
                q = quantiles(t)
                rows.append((name, label, batch, q, qref, d))
                print(f"  {name} B={batch}: {label} {q[0]:.1f} ms (min {q[1]:.1f}), reference {qref[0]:.1f} ms "
                      f"(min {qref[1]:.1f}), ratio {q[0] / qref[0]:.3f}", file=sys.stderr, flush=True)
        del gm, ref, call, variants
        gc.collect()
    print()
    print("| model | batch | archc median (min, IQR) | reference median (min, IQR) | ratio of medians | ratio of minima | max abs diff |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")

    def cell(q):
        return f"{q[0]:.1f} ({q[1]:.1f}, {q[2]:.1f}-{q[3]:.1f})"

    for name, label, batch, qa, qb, diff in rows:
        what = f"{name} vs {REF_NAMES[name]}" + ("" if label == "archc" else f"; {label}")
        print(f"| {what} | {batch} | {cell(qa)} | {cell(qb)} | {qa[0] / qb[0]:.3f} | {qa[1] / qb[1]:.3f} | {diff:.1e} |")
    print(f"\n# total {time.perf_counter() - t_start:.0f} s; load average at end {_load()}")


if __name__ == "__main__":
    main()
