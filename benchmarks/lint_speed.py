"""Wall time of `archc lint` against `yamllint` on the same files, paired in one run, as a ratio:
on the zoo (specs/) and on a generated corpus of variations of the zoo's specs.

    python benchmarks/lint_speed.py [--repeats N] [--corpus N] [--profile]

Not a test: it records numbers (benchmarks/RESULTS.md). Both tools run as separate processes (what a
CI job or a pre-commit hook pays, start-up included), interleaved, N times; the table shows the
median wall time and the CPU time (user + sys) of each, and archc / yamllint. yamllint only checks
YAML syntax and style; archc lint also validates, elaborates and infers every shape, then runs its
rules. `--profile` prints `python -X importtime` totals of the `archc lint` start-up.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODELS = ("mlp", "resnet", "unet", "bert_base", "gpt2", "vit_b_16")


def tool(name: str) -> str:
    exe = BIN / name
    found = str(exe) if exe.exists() else shutil.which(name)
    if not found:
        sys.exit(f"{name} is not installed: pip install 'archc-compiler[dev]'")
    return found


def make_corpus(dest: Path, n: int, seed: int = 0) -> int:
    """n specs: the zoo's models with their params and symbol sizes varied, plus the block library."""
    rng = random.Random(seed)
    shutil.copytree(ROOT / "specs" / "lib", dest / "lib")
    templates = {m: (ROOT / "specs" / f"{m}.yaml").read_text() for m in MODELS if (ROOT / "specs" / f"{m}.yaml").exists()}
    names = sorted(templates)
    for i in range(n):
        m = names[i % len(names)]
        text = re.sub(r"^name: (\S+)", lambda mt: f"name: {mt.group(1)}_{i}", templates[m], count=1, flags=re.M)

        def vary(mt: re.Match) -> str:
            v = int(mt.group(2))
            return f"{mt.group(1)}{max(8, v // 8 * 8 * rng.choice((1, 2)) // rng.choice((1, 2)))}"

        # widths and depths: `hidden: 256`, `base: 64`, `depth: 2`, `num_hidden_layers: 12` ...
        text = re.sub(r"(?<![\w.])((?:hidden|base|hidden_size|hidden_dim|width)\s*:\s*)(\d+)", vary, text)
        text = re.sub(r"(?<![\w.])((?:depth|num_hidden_layers|num_layers|n_layer)\s*:\s*)(\d+)",
                      lambda mt: f"{mt.group(1)}{rng.randint(1, int(mt.group(2)))}", text)
        (dest / f"{m}_{i:04d}.yaml").write_text(text)
    return n + len(list((dest / "lib").glob("*.yaml")))


def run_once(cmd: list[str]) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.returncode


def measure(label: str, target: Path, files: int, repeats: int, archc: str, yamllint: str) -> dict:
    cmds = {"archc lint": [archc, "lint", str(target), "--isolated"],
            "yamllint": [yamllint, "-f", "parsable", str(target)]}
    for cmd in cmds.values():  # warm the file cache and the bytecode
        run_once(cmd)
    walls = {k: [] for k in cmds}
    cpus = {k: [] for k in cmds}
    codes = {}
    for _ in range(repeats):
        for k, cmd in cmds.items():
            w, c, rc = run_once(cmd)
            walls[k].append(w)
            cpus[k].append(c)
            codes[k] = rc
    med = {k: statistics.median(v) for k, v in walls.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    return {"label": label, "files": files, "wall": med, "cpu": cpu, "codes": codes,
            "ratio": med["archc lint"] / med["yamllint"], "cpu_ratio": cpu["archc lint"] / cpu["yamllint"]}


def importtime(archc: str) -> None:
    cmd = [sys.executable, "-X", "importtime", "-c",
           "import sys; from archc.cli.main import main; sys.argv = ['archc', 'lint', 'specs/mlp.yaml']; main()"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    rows = []
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m and len(m.group(3)) <= 3:
            rows.append((int(m.group(2)), m.group(4)))
    print("top-level imports of `archc lint` (cumulative µs):")
    for us, name in sorted(rows, reverse=True)[:12]:
        print(f"  {us / 1000:8.1f} ms  {name}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--corpus", type=int, default=500)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    archc, yamllint = tool("archc"), tool("yamllint")
    if args.profile:
        importtime(archc)
    rows = []
    zoo = ROOT / "specs"
    rows.append(measure("zoo (specs/)", zoo, len(list(zoo.rglob("*.yaml"))), args.repeats, archc, yamllint))
    with tempfile.TemporaryDirectory() as tmp:
        n = make_corpus(Path(tmp), args.corpus)
        rows.append(measure(f"generated corpus ({args.corpus} specs + lib/)", Path(tmp), n, args.repeats, archc, yamllint))
    import yaml as _yaml

    from archc import __version__

    yl = subprocess.run([yamllint, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"archc {__version__} lint vs {yl}; Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"PyYAML {_yaml.__version__} (libyaml: {_yaml.__with_libyaml__}); median of {args.repeats} interleaved runs")
    print("| files | archc lint wall s | yamllint wall s | ratio (wall) | archc CPU s | yamllint CPU s | ratio (CPU) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['label']}: {r['files']} files | {r['wall']['archc lint']:.2f} | {r['wall']['yamllint']:.2f} | "
              f"{r['ratio']:.2f} | {r['cpu']['archc lint']:.2f} | {r['cpu']['yamllint']:.2f} | {r['cpu_ratio']:.2f} |")
    for r in rows:
        if r["codes"]["archc lint"] not in (0, 1):
            print(f"warning: archc lint exited {r['codes']['archc lint']} on {r['label']}")


if __name__ == "__main__":
    main()
