"""How fast hostile input is refused, as a ratio to reading a normal spec in the same run.

    python benchmarks/refusal_speed.py [--repeats N]

The tests only guard these cases against hangs (pytest-timeout); their speed is measured here.
Each case is timed N times (the best is kept) next to the reference: loading and validating
specs/resnet50.yaml (a fresh text each time), the work a user pays for every spec. A ratio below 1 means the hostile input
is refused faster than a normal spec is read.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def best(fn, repeats: int) -> float:
    t = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from archc.errors import DiagnosticError
    from archc.ir.expr import ExprError, parse
    from archc.spec.yaml_loader import load_yaml_text

    def refused_yaml(text: str):
        def f() -> None:
            try:
                load_yaml_text(text)
            except DiagnosticError:
                return
            raise AssertionError("accepted")
        return f

    def refused_expr(src: str, env: dict):
        def f() -> None:
            try:
                parse(src).evaluate(env, {})
            except ExprError:
                return
            raise AssertionError("accepted")
        return f

    laughs = ["l0: &l0 [" + ", ".join(['"lol"'] * 10) + "]"]
    laughs += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 9)]
    cases = {
        "billion laughs (ARC004)": refused_yaml("\n".join(laughs) + "\n"),
        "recursive alias (ARC004)": refused_yaml("a: &a [*a]\n"),
        "flow nesting 100k (ARC005)": refused_yaml("[" * 100_000 + "]" * 100_000),
        "block nesting 100k (ARC005)": refused_yaml("- " * 100_000 + "x\n"),
        "huge power (ARC108)": refused_expr("${10 ** 10 ** 10}", {}),
        "100k-element list arithmetic (ARC108)": refused_expr("${x + x}", {"x": [0] * 100_000}),
    }
    import shutil
    import tempfile

    from archc.pipeline import run

    tmp = Path(tempfile.mkdtemp())
    shutil.copytree(ROOT / "specs" / "lib", tmp / "lib")
    text = (ROOT / "specs" / "resnet50.yaml").read_text()
    count = iter(range(10**6))

    def read_resnet50() -> None:  # a new text each time, so no cache answers
        path = tmp / "resnet50.yaml"
        path.write_text(f"{text}\n# {next(count)}\n")
        run(path, until="validate")

    ref = best(read_resnet50, args.repeats)
    print(f"| case | refused in | / reading resnet50.yaml ({ref * 1e3:.1f} ms) |")
    print("|---|---|---|")
    for name, fn in cases.items():
        t = best(fn, args.repeats)
        print(f"| {name} | {t * 1e3:.2f} ms | {t / ref:.2f} |")


if __name__ == "__main__":
    main()
