"""`archc profile SPEC`: parameters, MACs, FLOPs and activation memory per node and block (static,
no execution), latency and peak memory on a device, batch and symbol sweeps, budgets for CI."""
from __future__ import annotations

import sys
from typing import Any, Optional

import typer
from typing_extensions import Annotated

from archc.cli._common import (
    CMDLINE, EXIT_FAIL, EXIT_OK, DebugOpt, JsonOpt, ParamLimitOpt, SetOpt, UsageError,
    VariantOpt, parse_sets, print_diagnostics, print_json, require_torch, run_command, spec_path, stderr_console,
)
from archc.diagnostics import Span
from archc.profile.budget import MEMORY_LIMIT_HELP
from archc.profile.convention import SUMMARY

HELP = """Profile a spec: parameters, MACs, FLOPs, activation memory per node and block, and
(on --device cpu/cuda/mps) latency, per-node latency, throughput and peak memory.

Static analysis (any --device, meta by default) runs nothing and works at any size. """ + SUMMARY + """

Memory (static): weights + buffers + the peak of live activations in a liveness walk of the
graph's topological order. Measured: CUDA max_memory_allocated; on CPU the torch.profiler
allocation timeline of one forward. Training step (static): weights + gradients (one per parameter)
+ optimizer state (--optimizer; Adam keeps 2 per parameter) + the activations kept for backward (every
output that is not a view). Per-sample figures lead; batch totals follow. Per-node latency: a torch.fx Interpreter timing each node
(its overhead is reported).

Budgets (`budget:` in the spec or --max-*): exceeded -> exit 1 with ARC610-ARC613."""

DeviceOpt = Annotated[str, typer.Option("--device", help="meta (static only), cpu, cuda, cuda:N or mps.")]


def _ints(opt: str, text: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{opt} expects comma-separated integers, got {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise UsageError(f"{opt} expects positive integers, got {text!r}")
    return vals


def profile(
    spec: Annotated[str, typer.Argument(help="The spec file.", metavar="SPEC")],
    device: DeviceOpt = "meta",
    dtype: Annotated[Optional[str], typer.Option("--dtype", help="float32, bfloat16 or float16 (weights and float tensors).")] = None,
    compile_: Annotated[bool, typer.Option("--compile", help="Measure torch.compile(module) instead of eager.")] = False,
    batch_size: Annotated[Optional[str], typer.Option("--batch-size", "-b", metavar="N,N,...",
                          help="Throughput at these batch sizes, e.g. 1,8,32 (the batch symbol is set to each).")] = None,
    sweep: Annotated[Optional[list[str]], typer.Option("--sweep", metavar="SYMBOL[,SYMBOL...]=v1,v2,...",
                     help="FLOPs, memory (and latency) per value of a symbol, re-elaborated exactly per value; "
                     "`H,W=128,224,320` sets several symbols together. Given once.")] = None,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed calls before timing.")] = 3,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Timed calls (median and IQR).")] = 20,
    per_node: Annotated[bool, typer.Option("--per-node/--no-per-node", help="Time every node (fx Interpreter).")] = True,
    memory: Annotated[bool, typer.Option("--memory/--no-memory", help="Measure peak memory.")] = True,
    top: Annotated[int, typer.Option("--top", min=0, help="Nodes shown in the table (0: all).")] = 20,
    depth: Annotated[int, typer.Option("--depth", "-d", min=0, help="Block nesting depth shown in the table.")] = 1,
    wide: Annotated[bool, typer.Option("--wide", help="Shorten no name and leave out no column, whatever the terminal's width.")] = False,
    optimizer: Annotated[str, typer.Option("--optimizer", metavar="adam|adamw|sgd|sgd-momentum",
                         help="The optimizer of the training-memory estimate (its state per parameter: 2, 2, 0, 1).")] = "adam",
    max_params: Annotated[Optional[str], typer.Option("--max-params", metavar="N", help="Budget: parameters (25M, 2.5e7).")] = None,
    max_flops: Annotated[Optional[str], typer.Option("--max-flops", metavar="N", help="Budget: dense FLOPs of one forward (8G).")] = None,
    max_memory: Annotated[Optional[str], typer.Option("--max-memory", metavar="BYTES",
                          help="Budget: memory (2GB, 512MiB); the static estimate, and the measured peak when measuring.")] = None,
    max_latency_ms: Annotated[Optional[str], typer.Option("--max-latency-ms", metavar="MS",
                              help="Budget: median latency in ms (needs a measuring --device).")] = None,
    plot: Annotated[Optional[str], typer.Option("--plot", metavar="FILE", help="Write a PNG or SVG chart (needs matplotlib).")] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads torch may use while measuring (default: torch's).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr while measuring (terminals only).")] = True,
    set_: SetOpt = None,
    variant: VariantOpt = None,
    json_: JsonOpt = False,
    param_limit: ParamLimitOpt = None,
    memory_limit: Annotated[Optional[str], typer.Option("--memory-limit", metavar="BYTES", help=MEMORY_LIMIT_HELP)] = None,
    debug: DebugOpt = False,
) -> None:
    def body() -> int:
        from archc.diagnostics import DiagnosticError
        from archc.pipeline import DEFAULT_PARAM_LIMIT, Options, Session, run
        from archc.profile import budget as B
        from archc.api import run_profile as profile_spec
        from archc.profile.run import Request

        ov = parse_sets(set_, variant)
        dev = device.strip()
        if dev.split(":")[0] not in ("meta", "cpu", "cuda", "mps"):
            raise UsageError(f"--device must be meta, cpu, cuda, cuda:N or mps; got {device!r}")
        if dtype is not None and dtype not in ("float32", "bfloat16", "float16"):
            raise UsageError(f"--dtype must be float32, bfloat16 or float16; got {dtype!r}")
        req = Request(device=dev, dtype=dtype, warmup=warmup, repeats=repeats, compile=compile_,
                      memory_limit=B.memory_limit_option(memory_limit),
                      per_node=per_node, memory=memory)
        if compile_ and not req.measuring:
            raise UsageError("--compile needs a measuring device (--device cpu, cuda or mps)")
        if batch_size:
            req.batch_sizes = _ints("--batch-size", batch_size)
        if sweep:
            if len(sweep) > 1:
                raise UsageError(f"--sweep is given {len(sweep)} times ({', '.join(map(repr, sweep))}); give it once "
                                 "(`--sweep H,W=128,224` sets several symbols together)")
            sym, eq, vals = sweep[0].partition("=")
            names = [x.strip() for x in sym.split(",")]
            if not eq or not all(x.isidentifier() for x in names) or len(set(names)) < len(names):
                raise UsageError(f"--sweep expects SYMBOL=v1,v2,... or SYMBOL,SYMBOL=v1,v2,..., got {sweep[0]!r}")
            req.sweep = (",".join(names), _ints("--sweep", vals))
        from archc.profile.static import OPTIMIZER_STATES

        if optimizer not in OPTIMIZER_STATES:
            raise UsageError(f"--optimizer must be one of {', '.join(OPTIMIZER_STATES)}, got {optimizer!r}")
        # flags: their text on the command line, so a diagnostic can point at them
        source = ov.source
        flags: dict[str, tuple[Any, Optional[Span]]] = {}
        for name, raw in (("max_params", max_params), ("max_flops", max_flops), ("max_memory", max_memory),
                          ("max_latency_ms", max_latency_ms)):
            if raw is None:
                continue
            try:
                B.parse_limit(name, raw)
            except ValueError as e:
                raise UsageError(f"{B.FLAG[name]}: {e}") from None
            if name == "max_latency_ms" and not req.measuring:
                raise UsageError("--max-latency-ms needs a measuring device (--device cpu, cuda or mps)")
            text = f"{B.FLAG[name]} {raw}"
            col = len(source) + (2 if source else 1)
            flags[name] = (raw, Span(CMDLINE, 1, col + len(B.FLAG[name]) + 1, 1, col + len(text)))
            source = f"{source} {text}" if source else text
        if plot is not None and not plot.lower().endswith((".png", ".svg")):
            raise UsageError(f"--plot {plot}: the file must end in .png or .svg")

        limit = None if not req.measuring else (param_limit if param_limit is not None else DEFAULT_PARAM_LIMIT)
        opts = Options(dict(ov.values), variant, limit, ov.spans)
        loaded = run(spec_path(spec), session=Session(opts, {CMDLINE: source}), until="validate").spec
        if req.dtype is None:  # weights and float tensors follow the spec's (one) floating input dtype
            floats = {i.dtype for i in loaded.model.inputs.values() if i.dtype in ("float32", "bfloat16", "float16", "float64")}
            req.dtype = floats.pop() if len(floats) == 1 and floats != {"float32"} else None
        if req.measuring:
            require_torch()
            from archc.profile.measure import check_device

            check_device(dev)
            if threads is not None:
                import torch

                torch.set_num_threads(threads)
        try:
            limits = B.collect(loaded.model.budget, lambda n: loaded.main.value_span(("budget", n)), flags)
        except ValueError as e:  # a spec value the schema let through but that does not parse
            raise UsageError(f"budget: {e}") from None

        with _progress_bar(progress and req.measuring and not json_) as cb:
            try:
                req.progress = cb
                graph, static, results = profile_spec(loaded, opts, req)
            except DiagnosticError as e:
                raise e.with_sources(loaded.sources)
        checks, diags = B.check(limits, static, results.get("measured"))
        from archc.report.profile import build_doc, render

        doc = build_doc(spec, static, results, checks, dev, req.dtype, optimizer)
        if plot is not None:
            from archc.profile.plot import write_plot

            try:
                nbytes = write_plot(doc, plot)
            except OSError as e:
                raise UsageError(f"cannot write {plot}: {e.strerror or e}") from None
            sys.stderr.write(f"archc: wrote {plot} ({plot.rsplit('.', 1)[-1].lower()}, {nbytes:,} bytes)\n")
        if json_:
            print_json(doc)
        else:
            from archc.report.fit import console

            render(console(), doc, top=top, depth=depth, wide=wide)
        if diags:
            print_diagnostics(diags, loaded.sources)
        return EXIT_OK if doc["passed"] else EXIT_FAIL

    run_command(body, debug)


profile.__doc__ = HELP


class _progress_bar:
    """A rich progress bar on stderr (only on a terminal); yields a `(phase, done, total)` callback."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.prog = None

    def __enter__(self):
        if not self.enabled:
            return None
        con = stderr_console()
        if not con.is_terminal:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                             console=con, transient=True)
        self.prog.start()
        tasks: dict[str, Any] = {}

        def cb(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = self.prog.add_task(f"measuring {phase}", total=total)
            self.prog.update(tasks[phase], completed=done, total=total)

        return cb

    def __exit__(self, *exc):
        if self.prog is not None:
            self.prog.stop()
        return False
