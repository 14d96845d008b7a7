"""The hostile-input fuzz campaign (`make fuzz`): seeded mutations of the zoo through `archc check`
and `archc lint`, in-process; counts per outcome and per mutation kind, and every distinct cause.

    python benchmarks/fuzz.py [--cases 20000] [--start 0] [--limit 30] [--scale 1] [--json OUT]
    python benchmarks/fuzz.py --show SEED       # print one case (its files and commands) and run it

The cases are tests/fuzz/harness.py's `make_case(seed)` for seed in [start, start + cases): the
same seeds give the same cases, so a failing seed reproduces with `--show`. Exit status 1 when
any outcome is a bug (exit 4, traceback, hang, unlocated diagnostic, ARC602, wrong exit).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=20000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--limit", type=float, default=30.0, help="seconds per command before it counts as a hang")
    ap.add_argument("--scale", type=float, default=None, help="size factor of the deep-repeat cases (default 1)")
    ap.add_argument("--quick", action="store_true", help="the default suite's cases (tests/fuzz/test_fuzz.py)")
    ap.add_argument("--memory-gib", type=float, default=6.0, help="address space allowed above start-up")
    ap.add_argument("--json", help="write the counts, causes and bad cases here")
    ap.add_argument("--show", type=int, metavar="SEED")
    ap.add_argument("--progress", default=os.environ.get("FUZZ_PROGRESS"),
                    help="file that always holds the seed being run (for a campaign killed from outside)")
    a = ap.parse_args(argv)
    os.environ.setdefault("NO_COLOR", "1")

    from tests.fuzz.harness import BAD, QUICK_SCALE, Fuzzer, make_case, summarize

    if a.show is not None:
        case = make_case(a.show, a.quick, a.scale)
        print(case.describe())
        with Fuzzer(a.limit, a.memory_gib) as fz:
            for o in fz.run(case).outcomes:
                print(f"{o.command}: {o.outcome} exit={o.exit_code} {o.seconds:.2f}s {o.cause} {o.detail}")
        return 0

    t0 = time.time()
    results, bad = [], []
    with Fuzzer(a.limit, a.memory_gib) as fz:  # imports torch and the CLI: not counted as the cases' time
        t_cases = time.time()
        for seed in range(a.start, a.start + a.cases):
            if a.progress:
                Path(a.progress).write_text(f"{seed}\n")
            r = fz.run(make_case(seed, a.quick, a.scale))
            results.append(r)
            if r.bad:
                bad.append(r)
                for o in r.bad:
                    print(f"seed {seed} {r.case.kind}: {o.command} {o.outcome}: {o.cause}", flush=True)
            if (seed - a.start + 1) % 1000 == 0:
                print(f"... {seed - a.start + 1} cases, {time.time() - t_cases:.0f} s", file=sys.stderr, flush=True)
    elapsed = time.time() - t_cases
    s = summarize(results)
    slowest = sorted(((o.seconds, r.case.seed, r.case.kind, o.command) for r in results for o in r.outcomes), reverse=True)[:5]
    s.update({"seconds": round(elapsed, 1), "startup_seconds": round(t_cases - t0, 1), "start": a.start,
              "limit_s": a.limit, "scale": a.scale if a.scale is not None else QUICK_SCALE if a.quick else 1.0, "quick": a.quick, "cpus": os.cpu_count(), "python": platform.python_version(),
              "slowest": [{"seconds": round(t, 2), "seed": sd, "kind": k, "command": c} for t, sd, k, c in slowest]})
    print(report(s, BAD))
    if a.json:
        s["bad_cases"] = [{"seed": r.case.seed, "kind": r.case.kind, "note": r.case.note,
                           "outcomes": [o.__dict__ for o in r.bad]} for r in bad]
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(s, indent=2, default=str) + "\n")
    return 1 if any(s["outcomes"].get(k) for k in BAD) else 0


def report(s: dict, bad: tuple[str, ...]) -> str:
    outcomes = ["ok", *bad]
    lines = [f"{s['cases']:,} cases ({s['commands']:,} commands: check and lint) in {s['seconds']:.0f} s "
             f"(+{s['startup_seconds']:.0f} s start-up), {s['cpus']} CPUs, limit {s['limit_s']:g} s a command, "
             f"deep-repeat scale {s['scale']:g}", "",
             "| outcome | commands |", "| --- | ---: |"]
    lines += [f"| {k} | {s['outcomes'].get(k, 0):,} |" for k in outcomes]
    lines += ["", "| mutation kind | cases | " + " | ".join(outcomes) + " |", "| --- | ---: |" + " ---: |" * len(outcomes)]
    for kind, counts in sorted(s["kinds"].items()):
        lines.append(f"| {kind} | {sum(counts.values()) // 2:,} | " + " | ".join(f"{counts.get(k, 0):,}" for k in outcomes) + " |")
    if s["causes"]:
        lines += ["", "| outcome | command | cause | cases | first seed |", "| --- | --- | --- | ---: | ---: |"]
        for key, seeds in s["causes"].items():
            outcome, command, cause = key.split(" | ", 2)
            lines.append(f"| {outcome} | {command} | `{cause}` | {len(seeds)} | {seeds[0]} |")
    lines += ["", "slowest commands: " + ", ".join(f"{x['seconds']} s (seed {x['seed']}, {x['kind']}, {x['command']})"
                                                   for x in s["slowest"])]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
