"""Start-up of `archc lint specs/` against `yamllint specs/` on the zoo: paired runs, as a ratio.

    python benchmarks/lint_startup.py [--runs N] [--before TREE] [--importtime]

Not a test: it records numbers (benchmarks/RESULTS.md). Each run is a fresh process (what a
pre-commit hook or a CI step pays: interpreter start-up, imports, then the work), and the tools
run interleaved, one after the other in each round, so a load that comes and goes on the machine
hits all of them alike; the table shows the medians of the wall and the CPU time (user + sys) of N
rounds and each one's ratio to yamllint's in the same rounds. `--before TREE` adds a third
command: the same `archc lint` from another checkout of archc (e.g. `git worktree add /tmp/base
<commit>`), for a before/after in one run. `--importtime` prints where `archc lint`'s start-up
goes (`python -X importtime`: the largest top-level imports, cumulative).

Both checkouts' bytecode is compiled first (`compileall`), as an installed package's is.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def yamllint() -> str:
    exe = BIN / "yamllint"
    found = str(exe) if exe.exists() else shutil.which("yamllint")
    if not found:
        sys.exit("yamllint is not installed: pip install yamllint")
    return found


def archc_cmd(tree: Path) -> tuple[list[str], dict]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    return [sys.executable, "-P", "-m", "archc", "lint", "specs/", "--isolated"], env   # -P: not the cwd first


def run_once(cmd: list[str], env: dict | None) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), p.returncode


def importtime(tree: Path, top: int = 14) -> list[tuple[float, str]]:
    cmd, env = archc_cmd(tree)
    p = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True, cwd=ROOT, env=env)
    rows = []
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(3)) <= 1:   # top-level imports (and their own first level)
            rows.append((int(m.group(2)) / 1000, m.group(4)))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--before", type=Path, help="another archc checkout to run interleaved (the 'before')")
    ap.add_argument("--importtime", action="store_true")
    args = ap.parse_args()
    trees = {"archc lint": ROOT}
    if args.before is not None:
        trees = {"archc lint (before)": args.before.resolve(), "archc lint": ROOT}
    for tree in trees.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "archc")], stdout=subprocess.DEVNULL, check=True)
    cmds = {name: archc_cmd(tree) for name, tree in trees.items()}
    cmds["yamllint"] = ([yamllint(), "-f", "parsable", "specs/"], None)
    for cmd, env in cmds.values():   # warm the file cache
        run_once(cmd, env)
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    cpus: dict[str, list[float]] = {k: [] for k in cmds}
    codes: dict[str, set[int]] = {k: set() for k in cmds}
    for _ in range(args.runs):
        for k, (cmd, env) in cmds.items():
            w, c, rc = run_once(cmd, env)
            walls[k].append(w)
            cpus[k].append(c)
            codes[k].add(rc)
    yl = subprocess.run([cmds["yamllint"][0][0], "--version"], capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"archc lint specs/ vs {yl} specs/ ({len(list((ROOT / 'specs').rglob('*.yaml')))} files); Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {load:.1f} at the end; "
          f"medians of {args.runs} interleaved rounds")
    print("| command | wall s (median) | CPU s (median) | wall ratio to yamllint | CPU ratio to yamllint | exit codes |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for k in cmds:
        # the ratio of each round's pair, then the median: paired, so a loaded round cancels out
        wr = statistics.median(a / b for a, b in zip(walls[k], walls["yamllint"]))
        cr = statistics.median(a / b for a, b in zip(cpus[k], cpus["yamllint"]))
        print(f"| {k} | {statistics.median(walls[k]):.3f} | {statistics.median(cpus[k]):.3f} | {wr:.2f} | {cr:.2f} | "
              f"{', '.join(map(str, sorted(codes[k])))} |")
    if args.importtime:
        for name, tree in trees.items():
            print(f"\n{name}: largest imports (cumulative ms, `python -X importtime`)")
            for ms, mod in importtime(tree):
                print(f"  {ms:8.1f}  {mod}")


if __name__ == "__main__":
    main()
