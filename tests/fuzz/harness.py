"""The hostile-input fuzzer: seeded mutations of the zoo's specs, run through `archc check` and
`archc lint` in-process (the typer app, as a user runs them), each outcome classified.

    case = make_case(seed)              # deterministic: the same seed gives the same case
    with Fuzzer() as fz:
        result = fz.run(case)           # one Outcome per command
        print(result.bad)               # the outcomes that are bugs

Outcomes: `ok` (exit 0, or exit 1 with every diagnostic located and of a known code, or exit 2
from a usage error), and the bugs: `exit4` (internal error), `traceback` (an exception escaped
the command), `hang` (past the per-command time limit), `unlocated` (a diagnostic without a
code the registry knows or without a file:line:col), `bug-diagnostic` (ARC602, "a bug in archc",
for a user's mistake), `wrong-exit` (a special file that `check` did not refuse with exit 2 or
that `lint` passed with exit 0). Each bug has a cause: the exception type and the innermost archc
frame (`archc/ops/linear.py:_linear_lower`), so a campaign reports distinct causes, not cases.

Mutation kinds (`KINDS`): the text edits of tests/test_no_traceback.py (delete, duplicate, swap
and re-indent a line, truncate, replace a token from a pool of keys, values, ops, expressions
and garbage), and the hostile inputs of issue 12: scalar and empty `from:`, node ids that are
nn.Module / GraphModule attribute names, huge and int64-overflowing numbers in the text and in
`--set` (5,000 digits, 10**20 sizes, 10**30 strides), other `--set` spellings, input dtypes,
special files (/dev/null, /dev/zero, /dev/stdin, a FIFO, symlink loops, a folder holding a FIFO),
hostile imports (a symlink loop, a FIFO, an over-long name) and deep or nested repeats.

Nothing here imports torch or archc at module level; `Fuzzer` imports the CLI app when entered.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = ROOT / "specs"

# --------------------------------------------------------------------------- seeds

def _read_specs() -> dict[str, str]:
    out = {p.name: p.read_text(encoding="utf-8") for p in sorted(SPECS_DIR.glob("*.yaml"))}
    out.update({f"lib/{p.name}": p.read_text(encoding="utf-8") for p in sorted((SPECS_DIR / "lib").glob("*.yaml"))})
    return out


SPECS = _read_specs()
MAIN_SPECS = sorted(n for n in SPECS if not n.startswith("lib/"))


def _variants(text: str) -> list[str]:
    m = re.search(r"^variants:\n((?:  .*\n)+)", text, re.M)
    return re.findall(r"^  (\w+):", m.group(1), re.M) if m else []


def _importers() -> dict[str, str]:
    """library stem -> a main spec that imports it (the first, by name)."""
    out: dict[str, str] = {}
    for name in MAIN_SPECS:
        m = re.search(r"^imports:\s*\[([^\]]*)\]", SPECS[name], re.M)
        for lib in (m.group(1).split(",") if m else []):
            out.setdefault(lib.strip().strip("'\""), name)
    return out


IMPORTERS = _importers()
VARIANTS = {n: _variants(SPECS[n]) for n in MAIN_SPECS}
# specs whose full size is slow to check (seconds): cases run them at their `small` variant, and
# fewer of them (the weights of `make_case`), so 2,000 cases fit in the default suite's time
WEIGHT = {"mlp.yaml": 6, "resnet18.yaml": 3, "unet.yaml": 2, "gpt2.yaml": 2, "vit_b_16.yaml": 2, "bert_base.yaml": 2,
          "resnet.yaml": 1, "resnet50.yaml": 1, "gpt3_175b.yaml": 0.2}
SMALL = {"resnet.yaml": "resnet18"}  # a variant that checks in a fraction of a second
# the default suite's weights (`quick`): gpt3_175b (96 layers, 3 to 7 s a check) is left to
# `make fuzz` (gpt2's small variant runs the same library), resnet50 (224x224) is drawn rarely
QUICK_WEIGHT = {**WEIGHT, "mlp.yaml": 8, "resnet50.yaml": 0.5, "gpt3_175b.yaml": 0}
QUICK_SCALE = 0.01   # deep repeats in the default suite: a hundredth of the campaign's sizes

# --------------------------------------------------------------------------- the mutation pools

TOKEN = re.compile(r"\$\{[^}\n]*\}|[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?|\S")

POOL = [
    # keys
    "op", "from", "kernel", "kernal", "out", "stride", "padding", "groups", "bias", "layers", "layer",
    "blocks", "block", "params", "symbols", "inputs", "outputs", "repeat", "when", "seq", "args",
    "imports", "extends", "variant", "variants", "ties", "param", "to", "archc", "name", "shape",
    "dtype", "example", "min", "max", "multiple_of", "init", "seed", "dim", "output", "doc",
    # values
    "0", "-1", "1", "2", "3", "64", "1e400", "1000000000000", "2.5", ".nan", "true", "false", "null",
    "~", "[]", "{}", "[1, 2]", "[x, skip]", "''", '""', "int", "float", "list", "int64", "bfloat16",
    "x", "skip", "image", "B", "H", "W", "resnet", "unet", "basic", "bottleneck", "resnet19",
    # ops
    "conv2d", "conv2", "linear", "add", "concat", "relu", "flatten", "max_pool2d", "batch_norm",
    "split", "reshape", "conv_transpose2d", "adaptive_avg_pool2d", "dropout", "layer_norm", "mean",
    # expressions
    "${x}", "${i}", "${channels(x)}", "${channels(nope)}", "${dim(x, 99)}", "${rank(x)}",
    "${9**9**9}", "${1/0}", "${foo.bar}", "${depths[9]}", "${width +}", "${hidden}", "${out * 2}",
    "${stride != 1}", "${[1, 2][5]}", "${'a' * 10**9}", "${__import__('os')}", "$${", "${",
    "\"${out}\"", "${None}", "${-1}", "${2 if i == 0 else 1}", "${len(widths)}",
    # garbage
    "&a", "*a", "*undefined", "!!python/name:os.system", "!!int", "!!str", "<<", ":", "- ", "{",
    "}", "[", "]", "\t", "%", "@", "`", "?", "|", ">", "#", "\x00", "\x85", "é", "\"", "'", ",",
    "\\", "---", "...", "&a [*a]",
]
TEXT_EDITS = ("delete_line", "duplicate_line", "truncate", "replace_token", "indent", "swap_lines")

SCALAR_FROM = ["0", "1", "1.5", "-1", "true", "false", "null", "''", "1e400", "{}", "{a: 1}", "[0]", "[[x]]", "[x, 0]"]
# attribute names of nn.Module, fx.GraphModule and Python objects, which a node id must not clobber
RESERVED_IDS = [
    "forward", "training", "eval", "train", "to", "cuda", "cpu", "half", "float", "double", "type", "apply",
    "parameters", "named_parameters", "buffers", "children", "modules", "state_dict", "load_state_dict",
    "register_buffer", "register_parameter", "add_module", "zero_grad", "requires_grad_", "extra_repr",
    "code", "graph", "recompile", "print_readable", "meta", "__class__", "__dict__", "__init__", "__call__",
    "__getattr__", "_modules", "_parameters", "_buffers", "_forward_hooks", "_graph", "_code", "dump_patches",
]
HUGE = [10**10, 10**20, 10**30, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**100]
SET_VALUES = [
    "10000000000", "1" + "0" * 19, "1" + "0" * 30, str(2**63), str(2**64), "9" * 5000, "1" + "0" * 4999, "-" + "9" * 5000,
    "0", "-1", "020", "0o20", "0x10", "1_000", "yes", "no", "on", "1e400", "-1e400", ".inf", ".nan", "2.5", "1e3",
    "''", "[]", "[1, 2]", "[10000000000, 1]", "null", "~", "x" * 300, "${hidden}", "${9**9**9}", "{a: 1}", "[",
]
DTYPES = ["float16", "bfloat16", "float64", "float32", "int64", "int32", "bool", "complex64", "uint8", "int8",
          "float8_e4m3fn", "half", "double", "qint8", "FLOAT32", "object", "str", "1", "[float32]", "null"]
SPECIAL_TARGETS = ["/dev/null", "/dev/zero", "/dev/stdin", "fifo", "link-zero", "link-null", "loop", "fifo-dir",
                   "link-dir-loop", "long-name"]
HOSTILE_IMPORTS = ["loop", "fifo", "link-zero", "link-null", "long", "dir", "dotdot", "absolute", "empty-name"]

# kind -> relative weight in a campaign (the text edits are the bulk, as in tests/test_no_traceback.py)
KINDS: dict[str, int] = {
    **{k: 6 for k in TEXT_EDITS},
    "scalar_from": 6, "empty_from": 4, "reserved_id": 8, "huge_number": 8, "huge_set": 8, "set_spelling": 4,
    "dtype": 4, "special_file": 3, "hostile_import": 3, "deep_repeat": 2, "stack": 6,
}

# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    seed: int
    kind: str
    spec: str                              # the seed spec (specs/NAME)
    files: dict[str, str] = field(default_factory=dict)  # path under the work dir's specs/ -> text
    target: str = "mutant.yaml"            # the file given to check and lint (under specs/, or special)
    sets: list[str] = field(default_factory=list)
    variant: str | None = None
    special: str | None = None             # a special-file target (SPECIAL_TARGETS) or hostile import
    note: str = ""                         # what the mutation did, in words

    def describe(self) -> str:
        head = f"fuzz case seed={self.seed} kind={self.kind} spec={self.spec}"
        if self.note:
            head += f" ({self.note})"
        args = " ".join([f"--variant {self.variant}"] * bool(self.variant) + [f"--set {_short(s)}" for s in self.sets])
        body = "".join(f"\n--- specs/{p} ---\n{_short(t, 4000)}" for p, t in self.files.items())
        return f"{head}\n  archc check {self.target} {args}\n  archc lint {self.target}{body}\n" \
               f"  reproduce: python benchmarks/fuzz.py --show {self.seed}"


def _short(s: str, n: int = 200) -> str:
    return s if len(s) <= n else f"{s[:n]}... ({len(s):,} characters)"


def text_edit(text: str, rng: random.Random, kind: str) -> str:
    """One edit of tests/test_no_traceback.py's kinds, drawn from `rng`."""
    lines = text.split("\n")
    if kind == "truncate":
        return text[: rng.randint(0, len(text))]
    i = rng.randrange(len(lines))
    if kind == "delete_line":
        del lines[i]
    elif kind == "duplicate_line":
        lines.insert(i, lines[i])
    elif kind == "swap_lines":
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "indent":
        stripped = lines[i].lstrip(" ")
        lines[i] = " " * max(0, len(lines[i]) - len(stripped) + rng.choice([-4, -2, -1, 1, 2, 4])) + stripped
    else:  # replace_token
        tokens = list(TOKEN.finditer(text))
        if not tokens:
            return text
        m = rng.choice(tokens)
        return text[: m.start()] + rng.choice(POOL) + text[m.end():]
    return "\n".join(lines)


NODE = re.compile(r"^(\s*- )(\w+)(:\s*)\{", re.M)   # `  - conv1: {op: ...}` (a node in a layers list)
FROM = re.compile(r"\bfrom:\s*(\[[^\]\n]*\]|[\w.]+)")
INT = re.compile(r"(?<![\w.$-])\d+(?![\w.])")


def _nodes(text: str) -> list[re.Match]:
    return list(NODE.finditer(text))


def scalar_from(text: str, rng: random.Random, values=SCALAR_FROM) -> tuple[str, str]:
    value = rng.choice(values)
    froms = list(FROM.finditer(text))
    if froms and rng.random() < 0.5:
        m = rng.choice(froms)
        return text[: m.start(1)] + value + text[m.end(1):], f"from: {m.group(1)} -> from: {value}"
    nodes = _nodes(text)
    if not nodes:
        return text, "no node"
    m = rng.choice(nodes)
    return text[: m.end()] + f"from: {value}, " + text[m.end():], f"`{m.group(2)}` gets from: {value}"


def empty_from(text: str, rng: random.Random) -> tuple[str, str]:
    nodes = _nodes(text)
    repeated = [m for m in nodes if "repeat:" in text[m.end(): text.find("\n", m.end())]]
    pool = repeated or nodes
    if not pool:
        return text, "no node"
    m = rng.choice(pool)
    line_end = text.find("\n", m.end())
    line = text[m.end(): line_end]
    line = FROM.sub("from: []", line) if "from:" in line else "from: [], " + line
    return text[: m.end()] + line + text[line_end:], f"`{m.group(2)}` gets from: []"


def reserved_id(text: str, rng: random.Random) -> tuple[str, str]:
    nodes = _nodes(text)
    if not nodes:
        return text, "no node"
    m = rng.choice(nodes)
    old, new = m.group(2), rng.choice(RESERVED_IDS)
    if rng.random() < 0.6:  # rename the id and every reference to it (a consistent spec)
        text = text[: m.start(2)] + new + text[m.end(2):]
        text = re.sub(rf"(\bfrom:\s*\[?[^\n\]}}]*?)\b{re.escape(old)}\b", lambda x: x.group(1) + new, text)
        return text, f"node `{old}` renamed `{new}`, references too"
    return text[: m.start(2)] + new + text[m.end(2):], f"node `{old}` renamed `{new}`"


def huge_number(text: str, rng: random.Random) -> tuple[str, str]:
    value = rng.choice(HUGE)
    if rng.random() < 0.3:  # a place where it matters: an example size, a stride, an output width
        for key in rng.sample(["example", "stride", "out", "kernel", "padding", "max", "repeat", "groups"], 8):
            spots = list(re.finditer(rf"\b{key}:\s*(-?\d+)", text))
            if spots:
                m = rng.choice(spots)
                return text[: m.start(1)] + str(value) + text[m.end(1):], f"{key}: {m.group(1)} -> {value}"
    ints = list(INT.finditer(text))
    if not ints:
        return text, "no number"
    m = rng.choice(ints)
    return text[: m.start()] + str(value) + text[m.end():], f"{m.group()} -> {value} at offset {m.start()}"


def spec_names(text: str) -> list[str]:
    """The params and symbols a `--set` can name (read off the text: the fuzzer needs no archc)."""
    names: list[str] = []
    m = re.search(r"^params:\s*\{([^}]*)\}", text, re.M)
    if m:
        names += re.findall(r"(\w+)\s*:", m.group(1))
    for section in ("params", "symbols"):
        m = re.search(rf"^{section}:\n((?:  .*\n)+)", text, re.M)
        if m:
            names += re.findall(r"^  (\w+):", m.group(1), re.M)
    return names or ["B"]


def huge_set(text: str, rng: random.Random) -> list[str]:
    names = spec_names(text)
    sets = [f"{rng.choice(names)}={rng.choice(SET_VALUES[:8])}"]
    if rng.random() < 0.3:
        sets.append(f"{rng.choice(names)}={rng.choice(SET_VALUES)}")
    return sets


def set_spelling(text: str, rng: random.Random) -> list[str]:
    names = spec_names(text)
    k = rng.choice(names)
    sets = [f"{k}={rng.choice(SET_VALUES)}"]
    r = rng.random()
    if r < 0.3:
        sets.append(f"{k}={rng.choice(SET_VALUES)}")  # the same key twice
    elif r < 0.45:
        sets.append(rng.choice(["=1", "nokey", "1x=2", f"{k}", "k=v=w", f" {k} =3", f"{k}=\x00"]))
    return sets


def dtype(text: str, rng: random.Random) -> tuple[str, str]:
    spots = list(re.finditer(r"\bdtype:\s*(\w+)", text))
    value = rng.choice(DTYPES)
    if not spots:
        return text, "no dtype"
    m = rng.choice(spots)
    return text[: m.start(1)] + value + text[m.end(1):], f"dtype: {m.group(1)} -> {value}"


def deep_repeat(rng: random.Random, scale: float) -> tuple[str, str]:
    """A spec of many nodes: a flat chain, a deep repeat of the mlp, or nested repeats."""
    shape = rng.choice(["chain", "depth", "nested", "nested3"])
    if shape == "chain":
        n = max(1, int(rng.choice([100, 500, 1000, 3000, 30000]) * scale))
        body = "".join(f"  - r{i}: {{op: relu}}\n" for i in range(n))
        return (f"archc: 1\nname: chain\ninputs:\n  x: {{shape: [2, 8], dtype: float32}}\nlayers:\n{body}"
                f"outputs:\n  y: {{from: r{n - 1}}}\n"), f"a chain of {n} relu nodes"
    if shape == "depth":
        n = max(1, int(rng.choice([100, 1000, 3000, 10000]) * scale))
        return SPECS["mlp.yaml"].replace("depth: 2", f"depth: {n}"), f"the mlp at depth {n}"
    levels = 2 if shape == "nested" else 3
    n = max(1, int(rng.choice([10, 50, 100, 400] if levels == 2 else [5, 20, 50, 100]) * scale))
    blocks = "".join(
        f"  b{k}:\n    layers:\n      - inner: {{block: b{k + 1}, repeat: {n}}}\n" for k in range(levels - 1)
    ) + f"  b{levels - 1}:\n    layers:\n      - act: {{op: relu}}\n"
    return (f"archc: 1\nname: nested\ninputs:\n  x: {{shape: [2, 8], dtype: float32}}\nblocks:\n{blocks}"
            f"layers:\n  - top: {{block: b0, repeat: {n}}}\noutputs:\n  y: {{from: top}}\n"), \
        f"{levels} nested repeats of {n} ({n ** levels:,} copies)"


def make_case(seed: int, quick: bool = False, scale: float | None = None) -> Case:
    """The case of `seed` (deterministic). `quick` (the default suite): the slow specs drawn rarely
    and the deep repeats at QUICK_SCALE of their size; `scale` sets that size factor explicitly."""
    rng = random.Random(seed)
    scale = scale if scale is not None else QUICK_SCALE if quick else 1.0
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    weight = QUICK_WEIGHT if quick else WEIGHT
    spec = rng.choices(MAIN_SPECS, weights=[weight.get(n, 1) for n in MAIN_SPECS])[0]
    variant = SMALL.get(spec) or ("small" if "small" in VARIANTS[spec] else None)
    case = Case(seed, kind, spec, variant=variant)
    text = SPECS[spec]
    if kind in TEXT_EDITS or kind == "stack":
        name = spec
        if rng.random() < 0.25:  # a library: mutate lib/X.yaml and check the spec importing it
            lib = rng.choice(sorted(n for n in SPECS if n.startswith("lib/")))
            if Path(lib).stem in IMPORTERS:
                name, spec = lib, IMPORTERS[Path(lib).stem]
                case.spec, case.variant = spec, SMALL.get(spec) or ("small" if "small" in VARIANTS[spec] else None)
                case.target = spec
        text = SPECS[name]
        edits = []
        for _ in range(rng.randint(1, 3) if kind == "stack" else 1):
            k = rng.choice(TEXT_EDITS) if kind == "stack" else kind
            if kind == "stack" and rng.random() < 0.4:
                text, what = rng.choice([scalar_from, reserved_id, huge_number, dtype])(text, rng)
                edits.append(what)
            else:
                text = text_edit(text, rng, k)
                edits.append(k)
        case.files[name if name.startswith("lib/") else "mutant.yaml"] = text
        case.note = ", ".join(edits) + (f" in {name}" if name.startswith("lib/") else "")
        return case
    if kind in ("scalar_from", "empty_from", "reserved_id", "huge_number", "dtype"):
        text, case.note = {"scalar_from": scalar_from, "empty_from": empty_from, "reserved_id": reserved_id,
                           "huge_number": huge_number, "dtype": dtype}[kind](text, rng)
        case.files["mutant.yaml"] = text
        return case
    if kind in ("huge_set", "set_spelling"):
        case.sets = (huge_set if kind == "huge_set" else set_spelling)(text, rng)
        case.files["mutant.yaml"] = text
        case.note = "the spec as shipped, hostile --set values"
        return case
    if kind == "special_file":
        case.special = rng.choice(SPECIAL_TARGETS)
        case.target = case.special
        case.variant = None
        case.note = f"the target is {case.special}"
        return case
    if kind == "hostile_import":
        case.special = rng.choice(HOSTILE_IMPORTS)
        lib = {"long": "l" * 300, "dotdot": "../../etc/passwd", "absolute": "/dev/zero", "empty-name": "''"}.get(
            case.special, f"fz_{case.special.replace('-', '_')}")
        case.files["mutant.yaml"] = ("archc: 1\nname: hostile_import\n"
                                     f"imports: [{lib}]\ninputs:\n  x: {{shape: [2, 8], dtype: float32}}\n"
                                     "layers:\n  - a: {op: relu}\noutputs:\n  y: {from: a}\n")
        case.variant = None
        case.note = f"imports: [{_short(lib, 40)}], which is {case.special}"
        return case
    assert kind == "deep_repeat", kind
    text, case.note = deep_repeat(rng, scale)
    case.files["mutant.yaml"] = text
    case.variant = None
    return case

# --------------------------------------------------------------------------- running and classifying


class Hang(BaseException):
    """Raised by the per-command alarm: a BaseException, so no `except Exception` in archc eats it."""


BAD = ("exit4", "traceback", "hang", "unlocated", "bug-diagnostic", "wrong-exit")


@dataclass
class Outcome:
    command: str        # check | lint
    outcome: str        # ok | one of BAD
    cause: str = ""     # for a bug: exception type and the innermost archc frame, or the message
    seconds: float = 0.0
    exit_code: int | None = None
    detail: str = ""    # the text of the error (a line or two)


@dataclass
class Result:
    case: Case
    outcomes: list[Outcome]

    @property
    def bad(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.outcome != "ok"]


ARCHC_FRAME = re.compile(r'File "([^"]*?)(archc/[^"]+\.py)", line (\d+), in (\S+)')


def cause_from_traceback(text: str) -> str:
    """`TypeError at archc/x.py:func` from a printed traceback (the innermost archc frame)."""
    frames = [m for m in ARCHC_FRAME.finditer(text) if "/tests/" not in m.group(1) + m.group(2)
              and m.group(4) != "run_command"]
    m = re.search(r"internal error: ([A-Za-z_][\w.]*)", text)
    last = [ln for ln in text.splitlines() if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Hang)\b", ln)]
    exc = m.group(1) if m else last[-1].split(":")[0] if last else "?"
    where = f"{frames[-1].group(2)}:{frames[-1].group(4)}" if frames else "?"
    return f"{exc} at {where}"


def cause_from_exception(e: BaseException) -> str:
    return cause_from_traceback("".join(traceback.format_exception(type(e), e, e.__traceback__)))


def cause_from_stack(frame, blocked: bool) -> str:
    """Where a command hung: the pipeline stage it was in (`archc/pipeline.py:_elaborate`), else
    the innermost archc frame; `(blocked)` when it was waiting (a read that never ends), not
    computing. The stage, not the innermost frame, so one slow stage is one cause."""
    frames = [f for f in traceback.extract_stack(frame) if "/archc/" in f.filename and "/tests/" not in f.filename]
    if not frames:
        return "hang outside archc"
    stages = [f for f in frames if f.filename.endswith("archc/pipeline.py") and f.name.startswith("_")]
    f = (stages or frames)[-1]
    return f"hang at {f.filename[f.filename.rindex('archc/'):]}:{f.name}" + (" (blocked)" if blocked else "")


def _diagnostic_problems(diags: list[dict], codes) -> list[str]:
    out = []
    for d in diags:
        s = d.get("span")
        if d.get("code") not in codes:
            out.append(f"unknown code {d.get('code')}: {d.get('message')}")
        elif not s or not s.get("file") or (s.get("line") or 0) < 1 or (s.get("col") or 0) < 1:
            out.append(f"{d['code']} without a location: {d.get('message')}")
    return out


class Fuzzer:
    """Runs cases in a scratch copy of specs/ with special files beside it. A context manager: it
    installs the alarm handler and an address-space limit (a memory bomb becomes MemoryError, an
    exit 4, instead of taking the machine) and restores both on exit."""

    def __init__(self, limit_s: float = 10.0, memory_gib: float | None = 6.0, workdir: Path | None = None,
                 wall_factor: float = 4.0):
        self.limit_s = limit_s          # CPU seconds a command may take (ITIMER_PROF: steady on a loaded machine)
        self.wall_factor = wall_factor  # and wall seconds, this many times more (ITIMER_REAL: a blocked read)
        self.memory_gib = memory_gib
        self._own = workdir is None
        self.root = Path(workdir or tempfile.mkdtemp(prefix="archc-fuzz-"))
        self.specs = self.root / "specs"
        self._saved: list = []

    # ---------------------------------------------------------------- set-up
    def __enter__(self) -> "Fuzzer":
        import typer.testing
        from typer.testing import CliRunner

        from archc.cli.main import app
        from archc.diagnostics import code_info

        self.app, self.codes = app, _Codes(code_info)
        try:
            self.runner = CliRunner(mix_stderr=False)  # click < 8.2
        except TypeError:
            self.runner = CliRunner()
        # typer's CliRunner rebuilds the click command from the app on every call (0.1 s, more
        # than a case): build it once while the fuzzer runs
        command, build = typer.testing._get_command(app), typer.testing._get_command
        typer.testing._get_command = lambda a: command if a is app else build(a)
        self._saved_get_command = build
        if self.specs.exists():
            shutil.rmtree(self.specs)
        shutil.copytree(SPECS_DIR, self.specs)
        sp = self.root / "special"
        shutil.rmtree(sp, ignore_errors=True)
        sp.mkdir()
        os.mkfifo(sp / "fifo")
        os.symlink("/dev/zero", sp / "link-zero")
        os.symlink("/dev/null", sp / "link-null")
        os.symlink(sp / "loop2", sp / "loop")
        os.symlink(sp / "loop", sp / "loop2")
        (sp / "fifo-dir").mkdir()
        os.mkfifo(sp / "fifo-dir" / "pipe.yaml")
        (sp / "fifo-dir" / "ok.yaml").write_text(SPECS["mlp.yaml"])
        (sp / "link-dir-loop").mkdir()
        os.symlink(".", sp / "link-dir-loop" / "self")
        (sp / "link-dir-loop" / "ok.yaml").write_text(SPECS["mlp.yaml"])
        self.special = sp
        # pytest-timeout's own alarm (SIGALRM) is suspended while the fuzzer runs, and restored
        self._outer_timer, self._entered = signal.getitimer(signal.ITIMER_REAL), time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0)
        self._old_handlers = (signal.signal(signal.SIGALRM, self._alarm), signal.signal(signal.SIGPROF, self._alarm))
        if self.memory_gib:
            import resource

            old = resource.getrlimit(resource.RLIMIT_AS)
            vm = _vm_size()
            if vm:
                resource.setrlimit(resource.RLIMIT_AS, (vm + int(self.memory_gib * 2**30), old[1]))
                self._saved.append(old)
        # the first check imports torch and the back end (seconds): not a case's time
        self.runner.invoke(app, ["check", str(self.specs / "mlp.yaml")])  # no alarm armed yet
        self.runner.invoke(app, ["lint", str(self.specs / "mlp.yaml"), "-j", "1", "--isolated"])
        return self

    def __exit__(self, *exc) -> None:
        import typer.testing

        typer.testing._get_command = self._saved_get_command
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGALRM, self._old_handlers[0])
        signal.signal(signal.SIGPROF, self._old_handlers[1])
        left, interval = self._outer_timer
        if left > 0:
            signal.setitimer(signal.ITIMER_REAL, max(0.001, left - (time.monotonic() - self._entered)), interval)
        if self._saved:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, self._saved.pop())
        if self._own:
            shutil.rmtree(self.root, ignore_errors=True)

    def _alarm(self, signum, frame) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)
        cpu, wall = time.process_time() - self._armed[0], time.perf_counter() - self._armed[1]
        raise Hang(cause_from_stack(frame, blocked=cpu < 0.1 * wall))

    # ---------------------------------------------------------------- one case
    def _target(self, case: Case) -> str:
        if case.kind == "special_file":
            if case.special.startswith("/dev/"):
                return case.special
            if case.special == "long-name":
                return str(self.specs / ("n" * 300 + ".yaml"))
            return str(self.special / case.special)
        return str(self.specs / case.target)

    def _install(self, case: Case) -> list[tuple[Path, bytes | None]]:
        restore = []
        for rel, text in case.files.items():
            p = self.specs / rel
            restore.append((p, p.read_bytes() if p.exists() else None))
            p.write_bytes(text.encode("utf-8", "surrogatepass"))
        if case.kind == "hostile_import":
            lib = self.specs / "lib" / f"fz_{case.special.replace('-', '_')}.yaml"
            restore.append((lib, None))
            if case.special == "loop":
                os.symlink(lib, lib)
            elif case.special == "fifo":
                os.mkfifo(lib)
            elif case.special in ("link-zero", "link-null"):
                os.symlink("/dev/zero" if case.special == "link-zero" else "/dev/null", lib)
            elif case.special == "dir":
                lib.mkdir()
        return restore

    @staticmethod
    def _uninstall(restore) -> None:
        for p, data in reversed(restore):
            if data is not None:
                p.write_bytes(data)
            elif p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()

    def run(self, case: Case) -> Result:
        restore = self._install(case)
        target = self._target(case)
        check = ["check", target, "--json"] + (["--variant", case.variant] if case.variant else [])
        for s in case.sets:
            check += ["--set", s]
        lint = ["lint", target, "-j", "1", "--isolated", "--select", "ALL", "--format", "json"]
        try:
            return Result(case, [self._one(case, "check", check), self._one(case, "lint", lint)])
        finally:
            self._uninstall(restore)

    def _limit(self, case: Case) -> tuple[float, float]:
        """(CPU s, wall s) for a command of `case`. Special files and hostile imports are refused at
        once when they are refused at all: a command that blocks on one (a FIFO, /dev/stdin) is
        found in two seconds, not the full limit."""
        if case.kind in ("special_file", "hostile_import"):
            return min(self.limit_s, 1.0), min(self.limit_s * self.wall_factor, 2.0)
        return self.limit_s, self.limit_s * self.wall_factor

    def _arm(self, limits: tuple[float, float]) -> None:
        self._armed = (time.process_time(), time.perf_counter())
        signal.setitimer(signal.ITIMER_PROF, limits[0])
        signal.setitimer(signal.ITIMER_REAL, limits[1])

    @staticmethod
    def _disarm() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)

    def _invoke(self, args: list[str], limits: tuple[float, float]):
        """(result or None, Hang or None, seconds): one command with the alarm armed, fd 0 a pipe
        that never ends (so a command that reads /dev/stdin blocks, as in a terminal, and the alarm
        finds it)."""
        r, w = os.pipe()
        saved = os.dup(0)
        os.dup2(r, 0)
        t0 = time.perf_counter()
        hang = None
        res = None
        try:
            self._arm(limits)
            try:
                res = self.runner.invoke(self.app, args, catch_exceptions=True)
            finally:
                self._disarm()
        except Hang as e:
            hang = e
        finally:
            os.dup2(saved, 0)
            for fd in (saved, r, w):
                os.close(fd)
        return res, hang, time.perf_counter() - t0

    def _one(self, case: Case, command: str, args: list[str]) -> Outcome:
        limits = self._limit(case)
        res, hang, dt = self._invoke(args, limits)
        if hang is not None:
            return Outcome(command, "hang", str(hang), dt, None, f"over {limits[0]:g} s of CPU or {limits[1]:g} s of wall time")
        out, err = res.stdout, _stderr(res)
        code = res.exit_code
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            return Outcome(command, "traceback", cause_from_exception(res.exception), dt, code,
                           f"{type(res.exception).__name__}: {_short(str(res.exception))}")
        if "Traceback (most recent call last)" in out + err:
            return Outcome(command, "traceback", cause_from_traceback(out + err), dt, code, _short(err, 400))
        if code == 4:
            return Outcome(command, "exit4", self._exit4_cause(command, args, err), dt, code, _first_error(err))
        if code not in (0, 1, 2):
            return Outcome(command, "wrong-exit", f"exit {code}", dt, code, _short(err, 400))
        if case.kind == "special_file" and not case.special.endswith("-dir") and case.special != "link-dir-loop":
            wrong = (command == "check" and code != 2) or (command == "lint" and code == 0)
            if wrong:
                return Outcome(command, "wrong-exit", f"{command} {case.special}: exit {code}", dt, code,
                               _short(err or out, 300))
        diags = self._diagnostics(command, out) if code == 1 else []
        problems = _diagnostic_problems(diags, self.codes)
        if problems:
            return Outcome(command, "unlocated", problems[0].split(":")[0], dt, code, "; ".join(problems)[:400])
        bug = [d for d in diags if d.get("code") == "ARC602"]
        if bug:
            return Outcome(command, "bug-diagnostic", "ARC602 " + _bucket(bug[0].get("message", "")), dt, code,
                           _short(bug[0].get("message", ""), 300))
        return Outcome(command, "ok", "", dt, code)

    @staticmethod
    def _diagnostics(command: str, out: str) -> list[dict]:
        try:
            doc = json.loads(out)
        except ValueError:
            return []
        if command == "check":
            docs = doc.get("specs", [doc]) if isinstance(doc, dict) else []
            return [d for x in docs for d in x.get("diagnostics", [])]
        return [d for f in doc.get("files", []) for d in f.get("diagnostics", [])]

    def _exit4_cause(self, command: str, args: list[str], err: str) -> str:
        """Rerun with --debug for the traceback (check), or lint the file directly (lint: its
        per-file internal errors carry the exception, not a printed traceback)."""
        if command == "check":
            res, hang, _ = self._invoke(args + ["--debug"], (self.limit_s, self.limit_s * self.wall_factor))
            if res is not None and "Traceback" in _stderr(res):
                return cause_from_traceback(_stderr(res))
            return _first_error(err)
        try:
            from archc.lint_driver.engine import LintInternalError, LintOptions, Linter
            from archc.lint_driver.config import LintConfig

            self._arm((self.limit_s, self.limit_s * self.wall_factor))
            try:
                Linter(LintOptions(select=("ALL",), config=LintConfig(), jobs=1)).lint_file(Path(args[1]))
            finally:
                self._disarm()
            return _first_error(err)
        except LintInternalError as e:
            return cause_from_exception(e.exc)
        except Hang as e:
            return str(e)
        except Exception as e:  # noqa: BLE001 - whatever escaped is the cause
            return cause_from_exception(e)


class _Codes:
    """`code in codes`: a code archc defines (its registry or a lint rule)."""

    def __init__(self, info) -> None:
        self.info = info

    def __contains__(self, code) -> bool:
        return isinstance(code, str) and re.fullmatch(r"ARC\d{3}", code) is not None and self.info(code) is not None


def _stderr(res) -> str:
    try:
        return res.stderr
    except ValueError:
        return ""


def _first_error(err: str) -> str:
    for ln in err.splitlines():
        if "internal error" in ln:
            return _bucket(ln.split("internal error", 1)[1].lstrip(": "))
    return _bucket(err.strip().splitlines()[0] if err.strip() else "exit 4, no message")


def _bucket(message: str) -> str:
    """A message with its numbers and quoted names blanked, so equal causes group."""
    return re.sub(r"\d+", "N", re.sub(r"`[^`]*`|'[^']*'", "_", message))[:120]


def _vm_size() -> int:
    try:
        for ln in Path("/proc/self/status").read_text().splitlines():
            if ln.startswith("VmSize:"):
                return int(ln.split()[1]) * 1024
    except OSError:
        pass
    return 0


def to_line(r: Result) -> dict:
    """One case's result as a JSON line (benchmarks/fuzz.py --log): what `summarize` needs."""
    line = {"seed": r.case.seed, "kind": r.case.kind,
            "outcomes": [[o.command, o.outcome, o.cause, round(o.seconds, 3)] for o in r.outcomes]}
    if r.bad:
        line["note"] = r.case.note
        line["detail"] = [o.detail for o in r.bad]
    return line


def from_line(line: dict) -> Result:
    return Result(Case(line["seed"], line["kind"], "", note=line.get("note", "")),
                  [Outcome(c, o, cause, s) for c, o, cause, s in line["outcomes"]])


def summarize(results: list[Result]) -> dict:
    """Counts per outcome, per mutation kind and outcome, and the distinct causes (each with the
    first seed that shows it)."""
    per_outcome: dict[str, int] = {}
    per_kind: dict[str, dict[str, int]] = {}
    causes: dict[tuple[str, str, str], list[int]] = {}
    for r in results:
        for o in r.outcomes:
            per_outcome[o.outcome] = per_outcome.get(o.outcome, 0) + 1
            k = per_kind.setdefault(r.case.kind, {})
            k[o.outcome] = k.get(o.outcome, 0) + 1
            if o.outcome != "ok":
                causes.setdefault((o.outcome, o.command, o.cause), []).append(r.case.seed)
    return {"cases": len(results), "commands": sum(len(r.outcomes) for r in results), "outcomes": per_outcome,
            "kinds": per_kind, "causes": {" | ".join(k): v for k, v in sorted(causes.items())}}
