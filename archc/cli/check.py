"""`archc check SPEC...`: validate, infer shapes, build on the meta device, verify; a summary."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from typing_extensions import Annotated

from archc.cli._common import (
    CMDLINE, EXIT_FAIL, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, REPORT_URL, DebugOpt, JsonOpt, ParamLimitOpt, SetOpt, VariantOpt, parse_sets,
    print_diagnostics, print_json, report_error, require_torch, run_command, spec_path,
)
from archc.diagnostics import DiagnosticError
from archc.errors import UsageError


class Library(Exception):
    """A spec found in a folder is a library of blocks (nothing to check on its own)."""


def check_one(path: str, ov: Any, variant: Optional[str], param_limit: Optional[int], weights: Optional[str] = None,
              progress: Any = None, verify_all: bool = False, walked: bool = False) -> dict:
    """Front end, lowering on the meta device and verification. Raises DiagnosticError; with
    `walked` (a file found in a folder), `Library` for a library of blocks."""
    from archc import session as S
    from archc.pipeline import Options, Session, run
    from archc.report.summary import check_summary

    # check builds on the meta device, which allocates nothing: only an explicit --param-limit applies
    opts = Options(dict(ov.values), variant, param_limit, ov.spans, device="cpu" if weights else "meta",
                   verify_max_nodes=None if verify_all or weights else S.VERIFY_MAX_NODES)
    session = Session(opts, {CMDLINE: ov.source}, progress=progress)
    if walked:
        from archc.lint_driver.engine import is_library

        unit = run(spec_path(path), session=session, until="validate")
        data = unit.spec.main.loaded.data
        if is_library(Path(path)) or (isinstance(data, dict) and not data.get("layers") and data.get("blocks")
                                      and unit.spec.extension is None):
            raise Library(path)
    unit = run(spec_path(path) if not walked else unit, session=session, until="check")
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


def find_specs(paths: list[str]) -> tuple[list[tuple[str, bool]], bool]:
    """(path, found in a folder) for each spec to check: files as given, folders walked as `archc
    lint` walks them (sorted; `*.yaml`/`*.yml` that look like specs, block or flow style; the
    `exclude` of `[tool.archc.lint]`). Returns them and whether a folder was given."""
    from archc.lint_driver.engine import LintOptions, Linter, collect_files, file_kind

    out: list[tuple[str, bool]] = []
    folders = False
    config_for = Linter(LintOptions()).config_for
    for raw in paths:
        if file_kind(raw) != "folder":
            out.append((raw, False))
            continue
        folders = True
        files, _ = collect_files([raw], config_for)
        out += [(str(f), True) for f in files]
    return out, folders


def _summary(results: list[dict], skipped: list[str]) -> dict:
    ok = sum(1 for r in results if r.get("checked"))
    bugs = sum(1 for r in results if r.get("internal_error"))    # "error": a path that is no file
    failed = len(results) - ok - bugs
    text = f"{len(results)} spec{'s' if len(results) != 1 else ''} checked: {ok} ok, {failed} failed"
    if bugs:
        text += f", {bugs} internal error{'s' if bugs != 1 else ''}"
    if skipped:
        text += f"; {len(skipped)} librar{'ies' if len(skipped) != 1 else 'y'} of blocks skipped"
    return {"checked": len(results), "ok": ok, "failed": failed, "internal_errors": bugs,
            "libraries_skipped": skipped, "text": text}


def check(
    specs: Annotated[list[str], typer.Argument(
        help="Spec files, or folders to walk for specs as `archc lint` does (one line a spec, then a summary; "
        "libraries of blocks are skipped).", metavar="SPEC...")],
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
        codes: list[int] = []
        from archc.report.progress import Progress

        found, folders = find_specs(specs)
        skipped: list[str] = []
        for path, walked in found:
            try:
                with Progress(enabled=not json_) as progress:
                    results.append(check_one(path, ov, variant, param_limit, weights, progress, verify_all, walked))
                codes.append(EXIT_OK)
            except Library:
                skipped.append(path)
            except DiagnosticError as e:
                codes.append(EXIT_FAIL)
                results.append({"spec": path, "verified": False, "diagnostics": [d.to_json() for d in e.diagnostics]})
                print_diagnostics(e.diagnostics, e.sources)
            except UsageError as e:     # a file found in a folder that is not one (a FIFO): the others go on
                if not walked:
                    raise
                codes.append(EXIT_USAGE)
                results.append({"spec": path, "verified": False, "error": str(e)})
                report_error(e)
            except Exception as e:      # a bug: one line, and the other specs are still checked
                if not folders or debug:
                    raise
                codes.append(EXIT_INTERNAL)
                results.append({"spec": path, "verified": False, "internal_error": f"{type(e).__name__}: {e}"})
                sys.stderr.write(f"archc: internal error while checking {path}: {type(e).__name__}: {e}\n"
                                 f"This is a bug in archc; please report it at {REPORT_URL} (the other specs were checked)\n")
        summary = _summary(results, skipped) if folders else None
        if json_:
            doc = results[0] if len(results) == 1 and not folders else {"specs": results}
            if summary is not None:
                doc["summary"] = summary
            print_json(doc)
        else:
            from archc.report.fit import console, say
            from archc.report.summary import render_check, render_check_line

            con = console()
            walked_paths = {p for p, w in found if w}
            for r in results:
                if r.get("spec") in walked_paths:
                    render_check_line(con, r)
                elif r.get("checked"):
                    d = depth if depth is not None else auto_depth(r)
                    render_check(con, r, d, wide)
                    if depth is None and d is not None:
                        sys.stderr.write(f"archc: {len(r['nodes']):,} nodes: the table is folded at --depth {d} "
                                         f"(at most {MAX_ROWS} rows); --depth N shows deeper blocks, --json every node\n")
            if summary is not None:
                say(con, summary["text"])
        return max(codes, default=EXIT_OK)

    run_command(body, debug)
