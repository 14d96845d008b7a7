"""`archc check SPEC...`: validate, infer shapes, build on the meta device, verify; a summary."""
from __future__ import annotations

import sys
from typing import Any, Optional

import typer
from typing_extensions import Annotated

from archc.cli._common import (
    CMDLINE, EXIT_FAIL, EXIT_OK, DebugOpt, JsonOpt, ParamLimitOpt, SetOpt, VariantOpt, parse_sets,
    print_diagnostics, print_json, require_torch, run_command, spec_path,
)
from archc.diagnostics import DiagnosticError


def check_one(path: str, ov: Any, variant: Optional[str], param_limit: Optional[int], weights: Optional[str] = None,
              progress: Any = None, verify_all: bool = False) -> dict:
    """Front end, lowering on the meta device and verification. Raises DiagnosticError."""
    from archc import session as S
    from archc.pipeline import Options, Session, run
    from archc.report.summary import check_summary

    # check builds on the meta device, which allocates nothing: only an explicit --param-limit applies
    opts = Options(dict(ov.values), variant, param_limit, ov.spans, device="cpu" if weights else "meta",
                   verify_max_nodes=None if verify_all or weights else S.VERIFY_MAX_NODES)
    session = Session(opts, {CMDLINE: ov.source}, progress=progress)
    unit = run(spec_path(path), session=session, until="check")
    require_torch()
    unit = run(unit, until="verify")
    gm, graph = unit.module, unit.graph
    if weights:
        from archc.parity.weights import load_weights

        load_weights(gm, graph, weights)
    doc = check_summary(unit, path)
    if unit.verified is None:
        print_diagnostics([d for d in session.diagnostics if d.code == "ARC607"], session.sources)
    if weights:
        doc["weights"] = weights
    return doc


MAX_ROWS = 500      # past this many rows, the table is folded (a 200,000-row table takes minutes to print)


def auto_depth(doc: dict) -> int | None:
    """None (every node) when the table fits in MAX_ROWS rows; else the deepest --depth that does."""
    from archc.report.summary import check_rows

    if len(doc["nodes"]) <= MAX_ROWS:
        return None
    best = 0
    for d in range(1, 16):
        n = len(check_rows(doc, d))
        if n > MAX_ROWS:
            break
        best = d
        if n == len(doc["nodes"]):
            return None
    return best


def check(
    specs: Annotated[list[str], typer.Argument(help="Spec files to check.", metavar="SPEC...")],
    set_: SetOpt = None,
    variant: VariantOpt = None,
    json_: JsonOpt = False,
    param_limit: ParamLimitOpt = None,
    weights: Annotated[Optional[str], typer.Option("--weights", metavar="PATH",
                       help="Load a safetensors or torch state_dict file (builds on cpu instead of meta).")] = None,
    depth: Annotated[Optional[int], typer.Option(
        "--depth", "-d", min=0, metavar="N",
        help="Fold the nodes inside more than N levels of blocks into one row per block, params summed "
        "(0: one row per top-level block or repeat), as `archc graph --depth` draws them. "
        "The table only; --json lists every node and block.")] = None,
    wide: Annotated[bool, typer.Option("--wide", help="Shorten no name and leave out no column, whatever the terminal's width.")] = False,
    verify_all: Annotated[bool, typer.Option("--verify-all", help="Verify by execution however many nodes the spec has "
                                             "(past 10,000 nodes it is skipped with warning ARC607: about 1 ms a node and a size).")] = False,
    debug: DebugOpt = False,
) -> None:
    """Validate specs, infer every shape, build on the meta device and verify executed shapes."""

    def body() -> int:
        ov = parse_sets(set_, variant)
        results: list[dict] = []
        failed = False
        from archc.report.progress import Progress

        for path in specs:
            try:
                with Progress(enabled=not json_) as progress:
                    results.append(check_one(path, ov, variant, param_limit, weights, progress, verify_all))
            except DiagnosticError as e:
                failed = True
                if json_:
                    results.append({"spec": path, "verified": False, "diagnostics": [d.to_json() for d in e.diagnostics]})
                print_diagnostics(e.diagnostics, e.sources)
        if json_:
            print_json(results[0] if len(results) == 1 else {"specs": results})
        else:
            from archc.report.fit import console
            from archc.report.summary import render_check

            con = console()
            for r in results:
                if r.get("checked"):
                    d = depth if depth is not None else auto_depth(r)
                    render_check(con, r, d, wide)
                    if depth is None and d is not None:
                        sys.stderr.write(f"archc: {len(r['nodes']):,} nodes: the table is folded at --depth {d} "
                                         f"(at most {MAX_ROWS} rows); --depth N shows deeper blocks, --json every node\n")
        return EXIT_FAIL if failed else EXIT_OK

    run_command(body, debug)
