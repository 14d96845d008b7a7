"""The hostile-input fuzz campaign (`make fuzz`): seeded mutations of the zoo through `archc check`
and `archc lint`, in-process; counts per outcome and per mutation kind, and every distinct cause.

    python benchmarks/fuzz.py [--cases 20000] [--start 0] [--jobs 1] [--limit 10] [--scale 1] [--json OUT]
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
    ap.add_argument("--limit", type=float, default=10.0,
                    help="CPU seconds a command may take before it counts as a hang (and 4x that of wall time)")
    ap.add_argument("--scale", type=float, default=None, help="size factor of the deep-repeat cases (default 1)")
    ap.add_argument("--quick", action="store_true", help="the default suite's cases (tests/fuzz/test_fuzz.py)")
    ap.add_argument("--memory-gib", type=float, default=6.0, help="address space allowed above start-up")
    ap.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (each a share of the seeds)")
    ap.add_argument("--json", help="write the counts, causes and bad cases here")
    ap.add_argument("--log", help="write one JSON line a case to LOG.<first seed of the worker>")
    ap.add_argument("--from-log", nargs="+", metavar="LOG", help="report the counts of earlier --log files, run nothing")
    ap.add_argument("--show", type=int, metavar="SEED")
    ap.add_argument("--progress", default=os.environ.get("FUZZ_PROGRESS"),
                    help="file that always holds the seed being run (for a campaign killed from outside)")
    a = ap.parse_args(argv)
    os.environ.setdefault("NO_COLOR", "1")
    os.environ.setdefault("ARCHC_CHECK_IR", "1")  # the IR verifier on, as in the suite (tests/conftest.py)

    from tests.fuzz.harness import BAD, QUICK_SCALE, Fuzzer, make_case, summarize

    if a.show is not None:
        case = make_case(a.show, a.quick, a.scale)
        print(case.describe())
        with Fuzzer(a.limit, a.memory_gib) as fz:
            for o in fz.run(case).outcomes:
                print(f"{o.command}: {o.outcome} exit={o.exit_code} {o.seconds:.2f}s {o.cause} {o.detail}")
        return 0

    if a.from_log:
        from tests.fuzz.harness import from_line

        results = [from_line(json.loads(ln)) for f in a.from_log for ln in Path(f).read_text().splitlines() if ln.strip()]
        s = summarize(results)
        s.update({"from_log": a.from_log, "slowest": _slowest(results)})
        print(report(s, BAD))
        return 1 if any(s["outcomes"].get(k) for k in BAD) else 0

    t0 = time.time()
    jobs = max(1, a.jobs)
    shards = [(a.start + k, a.start + a.cases, jobs, a.limit, a.memory_gib, a.quick, a.scale,
               a.progress if k == 0 else None, a.log)
              for k in range(jobs)]
    if jobs == 1:
        parts = [_shard(shards[0])]
    else:  # forked before torch is imported: each worker starts its own Fuzzer (its own scratch folder)
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            parts = pool.map(_shard, shards)
    results = sorted((r for part in parts for r in part["results"]), key=lambda r: r.case.seed)
    bad = [r for r in results if r.bad]
    s = summarize(results)
    s.update({"seconds": round(time.time() - t0, 1), "startup_seconds": round(max(p["startup"] for p in parts), 1),
              "cpu_seconds": round(sum(p["cpu"] for p in parts), 1), "jobs": jobs, "start": a.start,
              "limit_s": a.limit, "scale": a.scale if a.scale is not None else QUICK_SCALE if a.quick else 1.0,
              "quick": a.quick, "cpus": os.cpu_count(), "python": platform.python_version(),
              "slowest": _slowest(results)})
    print(report(s, BAD))
    if a.json:
        s["bad_cases"] = [{"seed": r.case.seed, "kind": r.case.kind, "note": r.case.note,
                           "outcomes": [o.__dict__ for o in r.bad]} for r in bad]
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(s, indent=2, default=str) + "\n")
    return 1 if any(s["outcomes"].get(k) for k in BAD) else 0


def _slowest(results: list) -> list[dict]:
    top = sorted(((o.seconds, r.case.seed, r.case.kind, o.command) for r in results for o in r.outcomes), reverse=True)[:5]
    return [{"seconds": round(t, 2), "seed": sd, "kind": k, "command": c} for t, sd, k, c in top]


def _shard(args: tuple) -> dict:
    """Seeds lo, lo + step, ... below hi in one Fuzzer; the results without the mutated texts of
    the cases that went well (a bad case keeps them, for the report)."""
    import resource

    from tests.fuzz.harness import Fuzzer, make_case, to_line

    lo, hi, step, limit, memory_gib, quick, scale, progress, log = args
    t0 = time.time()
    out = []
    logf = open(f"{log}.{lo}", "w") if log else None  # one JSON line a case: a killed campaign keeps its counts
    with Fuzzer(limit, memory_gib) as fz:  # imports torch and the CLI: start-up, not the cases' time
        startup = time.time() - t0
        for n, seed in enumerate(range(lo, hi, step)):
            if progress:
                Path(progress).write_text(f"{seed}\n")
            r = fz.run(make_case(seed, quick, scale))
            for o in r.bad:
                print(f"seed {seed} {r.case.kind}: {o.command} {o.outcome}: {o.cause}", flush=True)
            if not r.bad:
                r.case.files = {}
            out.append(r)
            if logf:
                logf.write(json.dumps(to_line(r)) + "\n")
                logf.flush()
            if progress and (n + 1) % 500 == 0:
                print(f"... {(n + 1) * step} cases, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    if logf:
        logf.close()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"results": out, "startup": startup, "cpu": ru.ru_utime + ru.ru_stime}


def report(s: dict, bad: tuple[str, ...]) -> str:
    outcomes = ["ok", *bad]
    if s.get("from_log"):
        head = f"{s['cases']:,} cases ({s['commands']:,} commands: check and lint), read from {len(s['from_log'])} log(s)"
    else:
        head = (f"{s['cases']:,} cases ({s['commands']:,} commands: check and lint) in {s['seconds']:.0f} s wall "
                f"({s['cpu_seconds']:.0f} s CPU, start-up included), {s['jobs']} worker(s) on {s['cpus']} CPUs, "
                f"limit {s['limit_s']:g} s of CPU a command, deep-repeat scale {s['scale']:g}")
    lines = [head, "",
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
