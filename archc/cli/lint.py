"""`archc lint PATH...`: design, performance and export rules; no torch. Exit 1 when a finding at or
above `--fail-on` remains."""
from __future__ import annotations

import os
import sys
from typing import Any, Optional

import typer
from typing_extensions import Annotated

from archc.cli._common import EXIT_FAIL, EXIT_INTERNAL, EXIT_OK, REPORT_URL, DebugOpt, UsageError, run_command

FORMATS = ("text", "json", "github", "sarif", "junit")


def _codes(values: Optional[list[str]], what: str) -> Optional[tuple[str, ...]]:
    from archc.lint_driver.config import check_patterns

    if not values:
        return None
    return check_patterns(",".join(values), what)


def lint(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Spec files and folders (default: .).", metavar="PATH...")] = None,
    format_: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT",
                       help="text, json, github (workflow annotations), sarif (2.1.0) or junit.")] = "text",
    select: Annotated[Optional[list[str]], typer.Option("--select", metavar="CODES",
                      help="Only these rules: codes or prefixes, comma-separated or repeated (ARC3, ARC401, ALL).")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", metavar="CODES",
                      help="Skip these rules (codes or prefixes), in addition to the configured ones.")] = None,
    fail_on: Annotated[Optional[str], typer.Option("--fail-on", metavar="SEVERITY",
                       help="Exit 1 when a finding at or above this severity remains: error (default), warning or info.")] = None,
    opset: Annotated[Optional[int], typer.Option("--opset", metavar="N", help="ONNX opset for the export rules (default 18).")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout.")] = None,
    config: Annotated[Optional[str], typer.Option("--config", metavar="PYPROJECT",
                      help="Read [tool.archc.lint] from this file instead of the nearest pyproject.toml.")] = None,
    isolated: Annotated[bool, typer.Option("--isolated", help="Ignore every pyproject.toml.")] = False,
    skip_non_specs: Annotated[bool, typer.Option("--skip-non-specs",
                              help="Skip named YAML files that are not archc specs (no top-level `archc:`); for pre-commit.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N",
                    help="Worker processes (0: one per CPU, used from 24 files on; 1: none).")] = 0,
    fix: Annotated[bool, typer.Option("--fix", help="Apply the safe fixes (e.g. `bias: false` before a batch norm) in the linted files, "
                                      "keeping comments and layout; then report what remains.")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Print the safe fixes as a unified diff and write nothing.")] = False,
    explain: Annotated[Optional[str], typer.Option("--explain", metavar="RULE", help="Print a rule's documentation (by code, ARC304, or name, bias-before-batch-norm) and exit.")] = None,
    list_rules: Annotated[bool, typer.Option("--list-rules", help="List every rule (code, name, severity) and exit.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Lint specs: design practice (ARC3xx), performance (ARC4xx), ONNX export (ARC5xx); torch-free."""

    def body() -> int:
        from pathlib import Path

        from archc.lint import RULES, load_rules
        from archc.lint_driver.config import LintConfig, check_fail_on, check_opset, load_config
        from archc.lint_driver.engine import LintInternalError, LintOptions, Linter
        from archc.report.lint_formats import render

        load_rules()
        if list_rules:
            for r in RULES.values():
                sys.stdout.write(f"{r.code}  {r.name:<32} {r.severity:<8} {r.summary}\n")
            return EXIT_OK
        if explain is not None:
            key = explain.strip()
            r = RULES.get(key.upper()) or next((x for x in RULES.values() if x.name == key.lower()), None)
            if r is None:
                import difflib

                near = difflib.get_close_matches(key.lower(), [x.name for x in RULES.values()], n=1)
                raise UsageError(f"--explain: no rule {explain!r}" + (f" (did you mean {near[0]}?)" if near else "")
                                 + "; `archc lint --list-rules` lists them")
            sys.stdout.write(r.doc())
            return EXIT_OK
        if format_ not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}; got {format_!r}")
        try:
            cfg = None
            if isolated:
                cfg = LintConfig()
            elif config is not None:
                if not os.path.isfile(config):
                    raise UsageError(f"--config: no such file: {config}")
                cfg = load_config(Path(config))
            opts = LintOptions(
                select=_codes(select, "--select"), ignore=_codes(ignore, "--ignore") or (),
                fail_on=check_fail_on(fail_on, "--fail-on") if fail_on is not None else None,
                opset=check_opset(opset, "--opset") if opset is not None else None,
                config=cfg, skip_non_specs=skip_non_specs, jobs=max(0, jobs), fix=fix or diff)
            run = Linter(opts).lint_paths(paths or ["."])
            outcome = None
            if fix or diff:
                from dataclasses import replace

                from archc.lint_driver.fix import apply_fixes

                outcome = apply_fixes(run.results, run.sources, write=not diff)
                if outcome.files:  # what remains: the fixed texts linted again
                    run = Linter(replace(opts, fix=False, texts=outcome.texts)).lint_paths(paths or ["."])
        except FileNotFoundError as e:
            raise UsageError(f"no such file or folder: {e.args[0] if e.args else e}") from None
        except LintInternalError as e:
            if debug:
                import traceback

                traceback.print_exception(e.exc)
            sys.stderr.write(f"archc: internal error {e}\nThis is a bug in archc; please report it at {REPORT_URL}"
                             + ("" if debug else " (rerun with --debug for the traceback)") + "\n")
            return EXIT_INTERNAL
        for file, message in run.internal_errors:
            sys.stderr.write(f"archc: internal error while linting {file}: {message}\n")
        if run.internal_errors:
            sys.stderr.write(f"This is a bug in archc; please report it at {REPORT_URL} (the other files were linted)\n")
        if outcome is not None:
            for where, why in outcome.refused:
                sys.stderr.write(f"archc: fix not made at {where}: {why}\n")
            if diff:
                sys.stdout.write(outcome.diff)
                sys.stderr.write(outcome.summary(dry_run=True) + "\n")
                return EXIT_INTERNAL if run.internal_errors else EXIT_FAIL if run.failed else EXIT_OK
        color = format_ == "text" and output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
        text = render(format_, run, RULES, color=color)
        if outcome is not None:
            if format_ == "text" and output is None:
                text += outcome.summary(dry_run=False) + "\n"
            else:
                sys.stderr.write(outcome.summary(dry_run=False) + "\n")
        if output is not None:
            try:
                with open(output, "w", encoding="utf-8") as f:
                    f.write(text)
            except OSError as e:
                raise UsageError(f"--output: cannot write {output}: {e.strerror}") from None
        else:
            sys.stdout.write(text)
        return EXIT_INTERNAL if run.internal_errors else EXIT_FAIL if run.failed else EXIT_OK

    run_command(body, debug)


# ------------------------------------------------------------------ start-up fast path
_INT = None


def fast_args(argv: list[str]) -> dict | None:
    """`archc lint`'s arguments read from `argv` (after `lint`) the way the typer app reads them,
    from the declarations above (no second copy of them), for plain command lines only: paths,
    `--option value`, `--option=value`, `-x value` and flags. Anything else (`--help`, an unknown
    option, a missing or malformed value, `-xVALUE`) gives None, and the typer app runs instead, with
    its own messages. It saves typer's per-option set-up (a pydantic TypeAdapter per option in typer
    0.29), a large part of lint's start-up on a small tree."""
    import inspect
    import re
    import typing

    global _INT
    if _INT is None:
        _INT = re.compile(r"-?[0-9]+")
    hints = typing.get_type_hints(lint, include_extras=True)
    params = inspect.signature(lint).parameters
    names: dict[str, tuple[str, Any, bool]] = {}   # option name -> (parameter, base type, repeated)
    positional = None
    for pname, hint in hints.items():
        if pname == "return":
            continue
        info = hint.__metadata__[0]
        base, many = _base(hint.__origin__)
        if isinstance(info, typer.models.ArgumentInfo):
            positional = pname
            continue
        # in `Annotated`, typer reads an Option's first positional argument as its first name
        decls = ((info.default,) if isinstance(info.default, str) else ()) + tuple(info.param_decls or ())
        if not decls:
            return None   # typer's default name (`--x/--no-x` for a flag): let typer read the line
        for decl in decls:
            if "/" in decl or not decl.startswith("-"):
                return None   # a declaration this reader does not know: let typer read the line
            names[decl] = (pname, base, many)
    out: dict[str, Any] = {p: v.default for p, v in params.items()}
    given: list[str] = []
    i = 0
    rest = False
    while i < len(argv):
        a = argv[i]
        i += 1
        if rest or a == "-" or not a.startswith("-"):
            given.append(a)
            continue
        if a == "--":
            rest = True
            continue
        value = None
        if a.startswith("--") and "=" in a:
            a, value = a.split("=", 1)
        if a not in names:
            return None
        pname, base, many = names[a]
        if base is bool:
            if value is not None:
                return None
            out[pname] = True
            continue
        if value is None:
            if i >= len(argv):
                return None
            value = argv[i]
            i += 1
        if base is int:
            if not _INT.fullmatch(value):
                return None
            value = int(value)
        elif base is not str:
            return None
        if many:
            out[pname] = [*(out[pname] or []), value]
        else:
            out[pname] = value
    if positional is None:
        return None if given else out
    out[positional] = given or None
    return out


def _base(tp: Any) -> tuple[Any, bool]:
    """(the scalar type, whether it repeats) of an annotation: Optional[list[str]] -> (str, True)."""
    import typing

    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is typing.Union and len(args) == 1:
        tp = args[0]
    if typing.get_origin(tp) is list:
        return typing.get_args(tp)[0], True
    return tp, False


def fast_main(argv: list[str]) -> bool:
    """Run `archc lint` from `argv` without the typer app when `fast_args` reads it; False when it
    does not (the caller then runs the app). Exits with the command's code."""
    kwargs = fast_args(argv)
    if kwargs is None:
        return False
    try:
        lint(**kwargs)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    sys.exit(0)
