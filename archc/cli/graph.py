"""`archc graph SPEC`: the architecture as a picture (SVG/PNG/PDF/JPEG through Graphviz, DOT,
Mermaid, Markdown)."""
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
    "--format", "-f", metavar="svg|png|pdf|jpg|dot|mermaid|markdown",
    help="Picture format. Default: from the -o file's extension (.svg .png .pdf .jpg .jpeg .dot .gv .mmd "
    ".mermaid .md; another extension needs --format), else dot. svg, png, pdf and jpg need Graphviz's `dot` "
    "(exit code 3 without it); dot, mermaid and markdown (a Mermaid block) need nothing.")]


def _choose_format(fmt: str | None, output: str | None) -> str:
    """The format to write: --format, else the -o file's extension, else dot; a usage error for an
    unknown format, an extension that says nothing, or a --format the extension contradicts."""
    from archc.draw.render import EXTENSIONS, FORMATS, format_for, normal_format

    exts = " ".join(EXTENSIONS)
    implied = format_for(output)
    if fmt is not None:
        chosen = normal_format(fmt)
        if chosen not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        if implied is not None and implied != chosen:
            raise UsageError(f"--format {chosen} does not match {output!r}, whose extension means {implied}; "
                             "change one of them")
        return chosen
    if output is None:
        return "dot"
    if implied is None:
        raise UsageError(f"cannot tell the picture format from {output!r}: name the file with one of {exts}, "
                         f"or give --format ({', '.join(FORMATS)})")
    return implied


def graph(
    spec: Annotated[str, typer.Argument(help="The spec file.", metavar="SPEC")],
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write the picture here (atomically; an existing file is overwritten). Default: stdout.")] = None,
    fmt: FormatOpt = None,
    expand: Annotated[Optional[str], typer.Option(
        "--expand", "-e", metavar="BLOCKS",
        help="Draw these scopes open: a comma list of block names (bottleneck) or scope paths (layer1, layer2.0), "
        "or `all`. Every other block or repeat is one box; an open repeat shows its first repetition open and "
        "the others as one box (`--expand encoder.layers`: layer 0 and `11 more × encoder_layer`).")] = None,
    depth: Annotated[Optional[int], typer.Option(
        "--depth", "-d", min=0, metavar="N",
        help="Draw scopes open down to N levels of nesting (0: every top-level block or repeat is one box). "
        "Default: 0 with --expand; otherwise the smallest depth that shows at least 6 boxes, so a model "
        "wrapped in one block opens to its parts.")] = None,
    rankdir: Annotated[str, typer.Option(
        "--rankdir", metavar="TB|LR|BT|RL",
        help="Layout direction: top to bottom (TB), left to right (LR), bottom to top (BT), right to left (RL).")] = "TB",
    dpi: Annotated[Optional[int], typer.Option(
        "--dpi", metavar="N",
        help="Resolution of png and jpg pictures in dots per inch (1 to 1200; Graphviz's default is 96).")] = None,
    legend: Annotated[bool, typer.Option(
        "--legend/--no-legend",
        help="Draw a legend of the colours, boxes and line styles the picture uses.")] = True,
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
    masks and tied weights dotted, boxes coloured by op family, and a legend.

    Examples: `archc graph specs/resnet50.yaml -o resnet50.svg`,
    `archc graph specs/unet.yaml --format mermaid --expand up`,
    `archc graph specs/vit_b_16.yaml --expand encoder.layers -o vit.pdf`,
    `archc graph specs/resnet50.yaml --depth 2 --annotate params --rankdir LR --dpi 200 -o r50.png`.
    """

    def body() -> int:
        from archc.draw.render import BINARY_FORMATS, MAX_DPI, RASTER_FORMATS, GraphvizFailed, render, write_atomic
        from archc.draw.view import ANNOTATIONS, RANKDIRS
        from archc.pipeline import Options, Session, run

        chosen = _choose_format(fmt, output)
        if annotate not in ANNOTATIONS:
            raise UsageError(f"--annotate must be one of {', '.join(ANNOTATIONS)}, got {annotate!r}")
        if rankdir.upper() not in RANKDIRS:
            raise UsageError(f"--rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
        if dpi is not None and chosen not in RASTER_FORMATS:
            raise UsageError(f"--dpi applies to {' and '.join(RASTER_FORMATS)} pictures only, not {chosen}")
        if dpi is not None and not 1 <= dpi <= MAX_DPI:
            raise UsageError(f"--dpi must be from 1 to {MAX_DPI}, got {dpi}")
        if output is None and chosen in BINARY_FORMATS and sys.stdout.isatty():
            raise UsageError(f"--format {chosen} is binary and stdout is a terminal: write it to a file with "
                             f"-o FILE.{chosen} (or redirect stdout)")
        ov = parse_sets(set_, variant)
        # a picture allocates no weights, so no parameter budget applies unless one is asked for
        opts = Options(dict(ov.values), variant, param_limit, ov.spans)
        g = run(spec_path(spec), session=Session(opts, {CMDLINE: ov.source}), until="check").graph
        try:
            data = render(g, chosen, (expand or "").split(","), depth, annotate, rankdir=rankdir.upper(), dpi=dpi, legend=legend)
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
