"""`archc compare SPEC [--against REF]`: a compiled spec against its reference implementation."""
from __future__ import annotations

from typing import Optional

import typer
from typing_extensions import Annotated

from archc.diagnostics import Diagnostic, DiagnosticError
from archc.profile.budget import MEMORY_LIMIT_HELP, memory_limit_option
from archc.cli._common import (
    CMDLINE, EXIT_FAIL, EXIT_OK, DebugOpt, JsonOpt, SetOpt, UsageError, VariantOpt,
    parse_sets, print_json, require_torch, run_command, spec_path, stdout_console,
)


def compare(
    spec: Annotated[str, typer.Argument(help="The spec file.", metavar="SPEC")],
    against: Annotated[Optional[str], typer.Option(
        "--against", metavar="REF",
        help="torchvision:NAME, timm:NAME, transformers:CLASS or diffusers:CLASS (default: the spec's reference.against).")] = None,
    set_: SetOpt = None,
    variant: VariantOpt = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="How many random inputs (and gradient projections) to compare on.")] = 3,
    seed: Annotated[int, typer.Option("--seed", help="The first seed: of the randomized weights, the inputs and the gradient projections.")] = 0,
    rtol: Annotated[Optional[float], typer.Option(
        "--rtol", "--tol", help="Relative tolerance: a difference passes when |spec - ref| <= atol + rtol * max|ref| "
        "(default 1e-7 in float64, 1e-4 in float32).")] = None,
    atol: Annotated[Optional[float], typer.Option("--atol", help="Absolute tolerance (default 1e-12 in float64, 1e-6 in float32).")] = None,
    dtype: Annotated[str, typer.Option("--dtype", help="float64 (default: an eps or a scale changed shows far above rounding) or float32.")] = "float64",
    train: Annotated[bool, typer.Option("--train/--no-train", help="Also compare once in train mode, dropout off (batch statistics).")] = True,
    memory_limit: Annotated[Optional[str], typer.Option("--memory-limit", metavar="BYTES", help=MEMORY_LIMIT_HELP)] = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Compare a spec with its reference implementation on randomized weights: parameter counts, weight keys,
    outputs and gradients at several seeds (relative to their magnitude), and once in train mode."""

    def body() -> int:
        from archc.pipeline import Options, Session, run
        from archc.report.progress import Progress

        ov = parse_sets(set_, variant)
        with Progress(enabled=not json_) as progress:
            session = Session(Options(dict(ov.values), variant, override_spans=ov.spans), {CMDLINE: ov.source},
                              progress=progress)
            unit = run(spec_path(spec), session=session, until="check")
            graph, span_of = unit.graph, unit.spec.main.value_span
            require_torch()
            from archc.parity.compare import BadReference, compare_graph

            try:
                doc = compare_graph(graph, against, seeds=seeds, seed=seed, rtol=rtol, atol=atol, dtype=dtype,
                                    train=train, span_of=span_of, progress=progress,
                                    memory_limit=memory_limit_option(memory_limit), spans=ov.spans)
            except BadReference as e:
                if e.path is None and against:
                    raise UsageError(str(e)) from None
                session.fail([Diagnostic("ARC119", str(e), span_of(e.path or ("reference", "against")))])
            except DiagnosticError as e:
                raise e.with_sources(session.sources)
        doc["spec"] = spec
        if json_:
            print_json(doc)
        else:
            from archc.report.compare import render_compare

            render_compare(stdout_console(), doc)
        return EXIT_OK if doc["passed"] else EXIT_FAIL

    run_command(body, debug)
