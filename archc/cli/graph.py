"""`archc graph SPEC`: the architecture as a picture (SVG/PNG through Graphviz, DOT, Mermaid)."""
from __future__ import annotations

import sys
from typing import Optional

import typer
from typing_extensions import Annotated

from archc.cli._common import (
    CMDLINE, EXIT_OK, DebugOpt, SetOpt, UsageError, VariantOpt, parse_sets,
    run_command, spec_path,
)

FormatOpt = Annotated[Optional[str], typer.Option(
    "--format", "-f", metavar="svg|png|dot|mermaid",
    help="Picture format. Default: from the -o file's extension (.svg .png .dot .gv .mmd), else dot. "
    "svg and png need Graphviz's `dot` (exit code 3 without it); dot and mermaid need nothing.")]


def graph(
    spec: Annotated[str, typer.Argument(help="The spec file.", metavar="SPEC")],
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write the picture here (atomically; an existing file is overwritten). Default: stdout.")] = None,
    fmt: FormatOpt = None,
    expand: Annotated[Optional[str], typer.Option(
        "--expand", "-e", metavar="BLOCKS",
        help="Draw these scopes open: a comma list of block names (bottleneck) or scope paths (layer1, layer2.0), "
        "or `all`. Every other block or repeat is one box.")] = None,
    depth: Annotated[Optional[int], typer.Option(
        "--depth", "-d", min=0, metavar="N",
        help="Draw scopes open down to N levels of nesting (0: every top-level block or repeat is one box). "
        "Default: 0 with --expand; otherwise the smallest depth that shows at least 6 boxes, so a model "
        "wrapped in one block opens to its parts.")] = None,
    annotate: Annotated[str, typer.Option(
        "--annotate", "-a", metavar="params|flops|all|none",
        help="Add parameter counts (params), FLOPs at the symbols' example sizes (flops), or both (all) "
        "to boxes, frames and the title.")] = "none",
    set_: SetOpt = None,
    variant: VariantOpt = None,
    param_limit: Annotated[Optional[int], typer.Option(
        "--param-limit", metavar="N",
        help="Refuse specs with more parameters than N (default: no limit; a picture allocates no weights).")] = None,
    debug: DebugOpt = False,
) -> None:
    """Draw a spec: blocks as collapsible frames, shapes on the edges, skip connections dashed,
    boxes coloured by op family.

    Examples: `archc graph specs/resnet50.yaml -o resnet50.svg`,
    `archc graph specs/unet.yaml --format mermaid --expand up`,
    `archc graph specs/resnet50.yaml --depth 2 --annotate params -o r50.png`.
    """

    def body() -> int:
        from archc.draw.render import FORMATS, BINARY_FORMATS, GraphvizFailed, format_for, render, write_atomic
        from archc.draw.view import ANNOTATIONS
        from archc.pipeline import Options, Session, run

        chosen = fmt.lower() if fmt else (format_for(output) or "dot")
        if chosen not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        if annotate not in ANNOTATIONS:
            raise UsageError(f"--annotate must be one of {', '.join(ANNOTATIONS)}, got {annotate!r}")
        if output is None and chosen in BINARY_FORMATS and sys.stdout.isatty():
            raise UsageError(f"--format {chosen} is binary; give -o FILE or redirect stdout")
        ov = parse_sets(set_, variant)
        # a picture allocates no weights, so no parameter budget applies unless one is asked for
        opts = Options(dict(ov.values), variant, param_limit, ov.spans)
        g = run(spec_path(spec), session=Session(opts, {CMDLINE: ov.source}), until="check").graph
        try:
            data = render(g, chosen, (expand or "").split(","), depth, annotate)
        except GraphvizFailed as e:
            raise RuntimeError(str(e)) from None
        if output is None:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            try:
                write_atomic(output, data)
            except OSError as e:
                raise UsageError(f"cannot write {output}: {e.strerror or e}") from None
            sys.stderr.write(f"archc: wrote {output} ({chosen}, {len(data):,} bytes)\n")
        return EXIT_OK

    run_command(body, debug)
