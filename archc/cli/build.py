"""`archc build SPEC -o DIR`: compile, export (pt2, onnx, torchscript, source, state_dict), verify
every artifact in its own runtime, write the artifacts and manifest.json."""
from __future__ import annotations

import sys
from typing import Optional

import typer
from typing_extensions import Annotated

from archc.profile.budget import MEMORY_LIMIT_HELP, memory_limit_option
from archc.cli._common import (
    EXIT_FAIL, EXIT_OK, DebugOpt, JsonOpt, SetOpt, VariantOpt, parse_sets,
    print_diagnostics, print_json, require_torch, run_command, spec_path, stdout_console,
)


def _emit_help() -> str:
    """The formats `--emit` takes, read from the export registry (a new format file shows here)."""
    from archc.export.registry import default_emit, load_formats

    return f"Formats: {', '.join(load_formats())}, or all (default {','.join(default_emit())})."


def build(
    spec: Annotated[str, typer.Argument(help="The spec to build.", metavar="SPEC")],
    out: Annotated[str, typer.Option("--out", "-o", metavar="DIR", help="Output folder (created; must be empty unless --force).")],
    emit: Annotated[Optional[str], typer.Option("--emit", metavar="LIST",
                    help=_emit_help())] = None,
    set_: SetOpt = None,
    variant: VariantOpt = None,
    dynamic: Annotated[Optional[str], typer.Option("--dynamic", metavar="SYMBOLS",
                       help="Symbols that stay dynamic, comma-separated (default: every symbol the exporters can keep; 'none' for static).")] = None,
    opset: Annotated[int, typer.Option("--opset", metavar="N", help="ONNX opset (18 or later).")] = 18,
    dtype: Annotated[Optional[str], typer.Option("--dtype", metavar="DTYPE",
                     help="float32, float16, bfloat16 or float64 (default: the spec's input dtype, else float32).")] = None,
    weights: Annotated[Optional[str], typer.Option("--weights", metavar="PATH", help="Load these weights (safetensors or a torch state_dict) before exporting.")] = None,
    memory_limit: Annotated[Optional[str], typer.Option("--memory-limit", metavar="BYTES", help=MEMORY_LIMIT_HELP)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace archc's outputs in a non-empty DIR (other files are left alone).")] = False,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Compile a spec and write verified artifacts and manifest.json to DIR."""

    def body() -> int:
        from archc.api import build as run_build
        from archc.export.build import parse_emit

        ov = parse_sets(set_, variant)
        path = spec_path(spec)
        formats = parse_emit(emit)
        dyn = None
        if dynamic is not None:
            dyn = [] if dynamic.strip().lower() in ("", "none") else [d.strip() for d in dynamic.split(",") if d.strip()]
        require_torch()
        from archc.report.progress import Progress

        with Progress(enabled=not json_) as progress:
            result = run_build(path, out, emit=formats, overrides=ov.values, override_spans=ov.spans, variant=variant,
                               dynamic=dyn, opset=opset, dtype=dtype, weights=weights, force=force, cmdline=ov.source,
                               progress=progress, memory_limit=memory_limit_option(memory_limit))
        from archc.export.formats.torchscript import DEPRECATION_NOTE

        for note in result.notes:
            if note == DEPRECATION_NOTE and emit is None:
                continue     # a default build does not repeat it (it is in the manifest); `--emit torchscript` shows it
            sys.stderr.write(f"note: {note}\n")
        if result.diagnostics:
            print_diagnostics(result.diagnostics, result.sources)
        if json_:
            print_json(result.manifest)
        else:
            from archc.report.build import render_build

            render_build(stdout_console(), result.manifest)
        return EXIT_OK if result.ok else EXIT_FAIL

    run_command(body, debug)
