"""How the front end scales with the node count: `archc check`'s front end (load, validate,
elaborate, the IR check) and `archc lint` (the same plus every rule) on generated specs of 1k, 10k
and 100k nodes and twice that, with the ratio t(2N)/t(N) (linear: 2.0; the issue's bound: 2.2),
and a spec at the node limit.

    python benchmarks/front_end_scaling.py [--sizes 1000,10000,100000] [--kinds chain,mlp,nested,fanin]
                                           [--repeats N] [--limit] [--full-check N]

Not a test: it records numbers (benchmarks/RESULTS.md). tests/elaborate/test_scaling.py checks
the same property without a clock (it counts the work). Each measurement runs in a fresh process
(imports excluded: they are the same at every size); the times are CPU seconds of the stages
(on a shared machine wall time measures the neighbours), the best of `--repeats` runs.
The specs:

- chain:  a flat `layers:` list of N relu nodes (one scope with N names);
- mlp:    specs/mlp.yaml with `--set depth=N/3` (N/3 block instances of linear, gelu, dropout);
- nested: a block holding `repeat: a` of relu, used with `repeat: a` (a x a = N nodes, nested scopes);
- fanin:  N relu branches of one input joined by one `add` of N inputs and one `concat` of N.

`--limit` checks (front end and lint) a nested repeat at the node limit (archc.elaborate.MAX_NODES)
and one copy past it (refused with ARC115), each in its own process with a 30 s timeout. `--full-check N`
also times the whole `archc check` command (lowering and verification on the meta device, which
is linear but runs torch once per node and size) on a chain of N nodes.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("chain", "mlp", "nested", "fanin")

HEADER = """archc: 1
name: {name}
symbols:
  B: {{example: 2, min: 1}}
inputs:
  x: {{shape: [B, 8], dtype: float32}}
"""


def chain_spec(n: int) -> str:
    """A flat list of n relu nodes."""
    lines = [HEADER.format(name=f"chain_{n}") + "layers:"]
    lines += [f"  - r{i}: {{op: relu}}" for i in range(n)]
    lines += ["outputs:", f"  y: {{from: r{n - 1}}}"]
    return "\n".join(lines) + "\n"


def nested_spec(a: int, b: int) -> str:
    """`repeat: a` of a block that holds `repeat: b` of relu: a*b nodes."""
    return HEADER.format(name=f"nested_{a}x{b}") + f"""blocks:
  inner:
    params: {{n: int}}
    layers:
      - r: {{op: relu, repeat: "${{n}}"}}
layers:
  - outer: {{block: inner, repeat: {a}, args: {{n: {b}}}}}
outputs:
  y: {{from: outer}}
"""


def fanin_spec(n: int) -> str:
    """n relu branches of the input, joined by one add of n inputs and one concat of n: n + 2 nodes."""
    k = max(2, n - 2)
    lines = [HEADER.format(name=f"fanin_{n}") + "layers:"]
    lines += [f"  - b{i}: {{op: relu, from: x}}" for i in range(k)]
    names = ", ".join(f"b{i}" for i in range(k))
    lines += [f"  - sum: {{op: add, from: [{names}]}}", f"  - cat: {{op: concat, dim: 1, from: [{names}]}}"]
    lines += ["outputs:", "  y: {from: sum}", "  z: {from: cat}"]
    return "\n".join(lines) + "\n"


def make(kind: str, n: int, dest: Path) -> tuple[Path, dict]:
    """The spec file of `kind` with about n nodes, and its --set overrides."""
    if kind == "mlp":
        return ROOT / "specs" / "mlp.yaml", {"depth": max(1, n // 3), "hidden": 8}
    if kind == "chain":
        text = chain_spec(n)
    elif kind == "nested":
        a = max(1, math.isqrt(n))
        text = nested_spec(a, max(1, n // a))
    elif kind == "fanin":
        text = fanin_spec(n)
    else:
        raise SystemExit(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    path = dest / f"{kind}_{n}.yaml"
    path.write_text(text)
    return path, {}


# one measurement, in a fresh interpreter: imports first (not timed), then the stages
CHILD = r"""
import json, sys, time
from archc.pipeline import Options, run
from archc.diagnostics import DiagnosticError
import archc.ops, archc.lint.stage, archc.elaborate
archc.ops.load_ops()
path, until, sets = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
t, c = time.perf_counter(), time.process_time()
try:
    u = run(path, Options(overrides=sets, param_limit=None, device="meta"), until=until)
    nodes, codes = len(u.graph.nodes), sorted({d.code for d in u.lint})
except DiagnosticError as e:
    nodes, codes = None, sorted({d.code for d in e.diagnostics})
print(json.dumps({"s": time.process_time() - c, "wall_s": time.perf_counter() - t, "nodes": nodes, "codes": codes}))
"""


def measure(path: Path, sets: dict, until: str, timeout: float | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("ARCHC_CHECK_IR", None)
    if until == "check":
        env["ARCHC_CHECK_IR"] = "1"  # the check stage runs the IR verifier only when asked
    t = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-c", CHILD, str(path), until, json.dumps(sets)],
                           capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"s": math.inf, "nodes": None, "codes": ["timeout"], "wall": time.perf_counter() - t}
    if p.returncode != 0:
        raise SystemExit(f"measuring {path} until {until} failed:\n{p.stderr[-2000:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["wall"] = time.perf_counter() - t
    return out


def best_of(path: Path, sets: dict, until: str, repeats: int) -> dict:
    """The run with the least CPU time: on a shared machine, the one least disturbed."""
    return min((measure(path, sets, until) for _ in range(repeats)), key=lambda r: r["s"])


def full_check(n: int, dest: Path) -> float:
    path, _ = make("chain", n, dest)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "archc", "check", str(path)], capture_output=True, cwd=ROOT,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", action="store_true", help="check and lint a chain at the node limit and one past it")
    ap.add_argument("--full-check", type=int, default=0, metavar="N", help="also time `archc check` on a chain of N and 2N nodes")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    kinds = [k for k in args.kinds.split(",") if k]
    from archc import __version__

    print(f"archc {__version__}; Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"CPU seconds (user + sys) of the stages, best of {args.repeats} runs, each in a fresh process (imports not timed)")
    print("| spec | N nodes | check s (N) | check s (2N) | check ratio | lint s (N) | lint s (2N) | lint ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp)
        for kind in kinds:
            for n in sizes:
                row = {}
                for until in ("check", "lint"):
                    a = best_of(*make(kind, n, dest), until, args.repeats)
                    b = best_of(*make(kind, 2 * n, dest), until, args.repeats)
                    row[until] = (a, b, b["s"] / a["s"])
                c, lt = row["check"], row["lint"]
                if c[0]["nodes"] is None or c[1]["nodes"] is None:
                    # a flat list of 100k nodes is over the loader's limits (1 MB, 200k YAML nodes),
                    # and one repeat makes at most 10,000 copies: such graphs come from nested repeats
                    codes = c[0]["codes"] if c[0]["nodes"] is None else c[1]["codes"]
                    why = ("one repeat makes at most 10,000 copies" if "ARC115" in codes else
                           "a flat list this long is over the loader's limits (1 MB, 200,000 YAML nodes)")
                    print(f"| {kind} | {n} | n/a: {2 * n if c[0]['nodes'] is not None else n} nodes refused "
                          f"({', '.join(codes)}: {why}) | | | | | |", flush=True)
                    continue
                worst = max(worst, c[2], lt[2])
                print(f"| {kind} | {c[0]['nodes']} | {c[0]['s']:.3f} | {c[1]['s']:.3f} | {c[2]:.2f} | "
                      f"{lt[0]['s']:.3f} | {lt[1]['s']:.3f} | {lt[2]:.2f} |", flush=True)
        print(f"worst t(2N)/t(N): {worst:.2f} (bound 2.2)")
        if args.limit:
            from archc.elaborate import MAX_NODES

            # at the limit: a 400 x 500 nested repeat; one past it: one more copy of the outer repeat
            a = 400
            for outer in (a, a + 1):
                path = dest / f"limit_{outer}.yaml"
                path.write_text(nested_spec(outer, MAX_NODES // a))
                for until in ("check", "lint"):
                    r = measure(path, {}, until, timeout=30)
                    what = f"{r['nodes']:,} nodes" if r["nodes"] is not None else "refused: " + ", ".join(r["codes"])
                    print(f"nested repeat {outer} x {MAX_NODES // a} relu (node limit {MAX_NODES:,}), {until}: "
                          f"{r['s']:.1f} s CPU, {r.get('wall_s', math.inf):.1f} s wall ({r['wall']:.1f} s with start-up), "
                          f"{what}", flush=True)
        if args.full_check:
            a, b = full_check(args.full_check, dest), full_check(2 * args.full_check, dest)
            print(f"`archc check` (front end, lowering, meta verification at 2 sizes; start-up included) on a chain: "
                  f"{args.full_check} nodes {a:.1f} s, {2 * args.full_check} nodes {b:.1f} s, ratio {b / a:.2f}")


if __name__ == "__main__":
    main()
