"""Mutation testing of the proof: the kill rate of `archc compare` over the zoo's semantic mutants.

    python benchmarks/mutants.py [--cap N] [--sample SEED] [--seeds N] [--json OUT] [--spec NAME ...]

Every zoo spec with a `reference:` (small variants / sizes where it has them), every mutation class of
archc.parity.mutate, at most CAP live mutants per class (--cap 0: no cap). A mutant that edits a block the
configuration never instantiates is dead code: it is listed with that reason and not run. Prints the
kill rate per spec and class over the live mutants, every survivor (with its reason where
known-equivalent), the dead ones and the wall time; --json writes the raw results.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# small sizes / variants (tests/parity/test_parity_zoo.py KEYSTONES_SMALL and the brief)
SMALL: dict[str, tuple[dict, str | None]] = {
    "resnet18": ({"H": 64, "W": 64, "B": 1}, None),
    "resnet50": ({"H": 64, "W": 64, "B": 1}, None),
    "resnet": ({"H": 64, "W": 64, "B": 1}, None),
    "vit_b_16": ({}, "small"),
    "gpt2": ({"T": 16}, "small"),
    "gpt3_175b": ({"T": 16}, "small"),
    "bert_base": ({"T": 16}, "small"),
}


def zoo() -> list[str]:
    import yaml
    out = []
    for p in sorted((ROOT / "specs").glob("*.yaml")):
        d = yaml.safe_load(p.read_text()) or {}
        if d.get("reference") or d.get("extends"):
            out.append(p.stem)
    return out


def main(argv: list[str] | None = None) -> int:
    from archc.errors import ArchcError
    from archc.parity.mutate import (CLASSES, dead_reason, enumerate_mutants, equivalent_reason, run_mutant, select,
                                     used_blocks)

    ap = argparse.ArgumentParser()
    ap.add_argument("--cap", type=int, default=2)
    ap.add_argument("--sample", type=int, default=None)
    ap.add_argument("--spec", action="append")
    ap.add_argument("--json")
    ap.add_argument("--seeds", type=int, default=None,
                    help="seeds per mutant compare (default: compare's 3); a survivor is run again with the default")
    a = ap.parse_args(argv)
    kw = {"seeds": a.seeds} if a.seeds else {}
    t0 = time.time()
    rows = []
    for name in a.spec or zoo():
        spec = ROOT / "specs" / f"{name}.yaml"
        overrides, variant = SMALL.get(name, ({}, None))
        try:
            from archc.parity.compare import compare
            base = compare(str(spec), None, overrides, variant)
        except ArchcError as e:
            print(f"{name}: skipped ({type(e).__name__}: {str(e)[:120]})")
            continue
        print(f"{name}: unmutated passed={base.get('passed')}", flush=True)
        used = used_blocks(spec, overrides, variant)
        t_spec = time.time()
        every = enumerate_mutants(spec)
        for m in every:   # dead code: listed, never run (and not counted against the cap)
            if (dead := dead_reason(m, used)) is not None:
                rows.append({"outcome": "dead", "reason": dead, "spec": name, "cls": m.cls, "desc": m.desc, "seconds": 0})
                print(f"  {'dead':10s} {m.key}", flush=True)
        for m in select([m for m in every if dead_reason(m, used) is None], a.cap or None, a.sample):
            t = time.time()
            r = run_mutant(spec, m, overrides, variant, **kw)
            if r["outcome"] == "survived" and kw:   # a survivor at fewer seeds gets the full compare
                r = run_mutant(spec, m, overrides, variant)
                r["rerun"] = "default seeds"
            r.update(spec=name, cls=m.cls, desc=m.desc, seconds=round(time.time() - t, 2))
            if r["outcome"] == "survived":
                r["reason"] = equivalent_reason(spec, m) or "UNEXPLAINED"
            rows.append(r)
            extra = r.get("codes") or r.get("reason") or r.get("message", "")[:80] if r["outcome"] != "killed" else ""
            print(f"  {r['outcome']:10s} {m.key}  {extra}", flush=True)
        print(f"  ({time.time() - t_spec:.0f} s)", flush=True)
    wall = time.time() - t0
    per = defaultdict(lambda: [0, 0, 0, 0])   # killed (compare), killed (diagnostic), live total, dead
    for r in rows:
        for k in ((r["spec"], r["cls"]), (r["spec"], "*"), ("*", r["cls"]), ("*", "*")):
            if r["outcome"] == "dead":
                per[k][3] += 1
                continue
            per[k][2] += 1
            per[k][0] += r["outcome"] == "killed"
            per[k][1] += r["outcome"] == "diagnostic"
    print("\nspec       class       killed/live (by compare + by a diagnostic), dead")
    for (s, c), (k, d, n, z) in sorted(per.items()):
        print(f"{s:10s} {c:11s} {k + d}/{n} ({k} + {d}), {z} dead")
    print("\nsurvivors / errors:")
    for r in rows:
        if r["outcome"] in ("survived", "error"):
            print(f"  {r['spec']}: {r['cls']}: {r['desc']}: {r.get('reason') or r.get('message')}")
    print("\ndead (not run):")
    for r in rows:
        if r["outcome"] == "dead":
            print(f"  {r['spec']}: {r['cls']}: {r['desc']}")
    print(f"\nwall time {wall:.1f} s, {len(rows)} mutants")
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": rows, "wall_s": wall, "classes": CLASSES}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
