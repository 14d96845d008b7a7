"""Shared CLI plumbing: option declarations (declared once), `--set` parsing, exit codes, and the
edge where domain errors become exit codes. No traceback reaches a user without `--debug`."""
from __future__ import annotations

import json
import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import typer
from typing_extensions import Annotated

from archc.diagnostics import Diagnostic, Related, Span
from archc.errors import (  # noqa: F401  (the commands import them from here)
    EXIT_ENV, EXIT_FAIL, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, DiagnosticError, MissingDependency, UsageError, exit_code,
    pip_install,
)
REPORT_URL = "https://github.com/archc/archc/issues"
CMDLINE = "<command line>"

SetOpt = Annotated[Optional[list[str]], typer.Option("--set", "-s", metavar="K=V",
                   help="Override a param or symbol size (repeatable), e.g. --set H=384 --set width=0.5.")]
VariantOpt = Annotated[Optional[str], typer.Option("--variant", "-V", help="Select a named variant of the spec.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]
ParamLimitOpt = Annotated[Optional[int], typer.Option("--param-limit", metavar="N",
                          help="Largest parameter count allowed (default: 2e9 where weights are allocated; no limit on the meta device).")]


EnvironmentMissing = MissingDependency  # the name the commands used before archc.errors


@dataclass
class Overrides:
    values: dict[str, Any] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)
    source: str = ""


def key_span_key(name: str) -> str:
    """The key of `Overrides.spans` (and `Options.override_spans`) that holds where the NAME of
    `--set NAME=V` is (NAME's own key holds where its value is)."""
    return f"{name}="


def parse_sets(sets: list[str] | None, variant: str | None = None) -> Overrides:
    """`--set K=V` values are read as a spec file reads a value: YAML 1.2 core schema (`020` is 20,
    `yes` is a string), scalars or flow lists, data never code (archc's own YAML loader). A key
    given twice, or a value that cannot be read as a number, is an ARC114 diagnostic pointing into
    the command line; text that is no YAML value at all is a usage error (exit 2)."""
    from archc.spec.yaml_loader import load_yaml_text

    ov = Overrides()
    parts: list[str] = []
    items: list[tuple[str, str, Span]] = []
    col = 1
    for s in sets or []:
        if "=" not in s:
            raise UsageError(f"--set expects KEY=VALUE, got {_short(s)!r}")
        k, _, v = s.partition("=")
        k = k.strip()
        if not k.isidentifier():
            raise UsageError(f"--set: {_short(k)!r} is not a param or symbol name")
        text = f"--set {s}"
        items.append((k, v, Span(CMDLINE, 1, col + len("--set ") + len(k) + 1, 1, col + len(text))))
        key_col = col + len("--set ") + len(s) - len(s.lstrip())
        ov.spans[key_span_key(k)] = Span(CMDLINE, 1, key_col, 1, key_col + len(k))   # an unknown name points here
        parts.append(text)
        col += len(text) + 1
    if variant is not None:
        text = f"--variant {variant}"
        ov.spans["--variant"] = Span(CMDLINE, 1, col + len("--variant "), 1, col + len(text))
        parts.append(text)
    ov.source = " ".join(parts)
    diags: list[Diagnostic] = []
    for k, v, span in items:
        if k in ov.values:
            diags.append(Diagnostic("ARC114", f"`--set {k}` is given twice", span,
                                    hint="give each param or symbol once (archc does not pick one of two values)",
                                    related=(Related("first given here", ov.spans[k]),)))
            continue
        ov.spans[k] = span
        try:
            value = load_yaml_text(v, file=CMDLINE).data if v.strip() else ""
        except DiagnosticError as e:
            if any(d.code == "ARC102" for d in e.diagnostics):  # YAML, but not a readable number
                d = next(d for d in e.diagnostics if d.code == "ARC102")
                diags.append(Diagnostic("ARC114", f"--set {k}: {d.message}", span, hint=d.hint))
                ov.values[k] = None
                continue
            raise UsageError(f"--set {k}: cannot read {_short(v)!r} as a value") from None
        if isinstance(value, dict) or (value is not None and not isinstance(value, (int, float, str, bool, list))):
            raise UsageError(f"--set {k}: {_short(v)!r} is not a scalar or a list")
        ov.values[k] = value
    if diags:
        raise DiagnosticError(diags, {CMDLINE: ov.source})
    return ov


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else f"{text[:n - 12]}...{text[-8:]} ({len(text):,} characters)"


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console() -> Any:
    """Tables on stdout; when piped, a fixed generous width so nothing is cut."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 140)


def print_diagnostics(diags: list[Diagnostic], sources: dict[str, str]) -> None:
    from archc.report.text import render_diagnostics

    color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
    sys.stderr.write(render_diagnostics(diags, sources, color=color) + "\n")


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


_THIRD_PARTY_WARNINGS = ("torch", "onnx", "onnxruntime", "onnxscript", "safetensors")


def _from_third_party(w: warnings.WarningMessage) -> bool:
    parts = os.path.normpath(w.filename or "").split(os.sep)
    return any(p in _THIRD_PARTY_WARNINGS for p in parts) or "site-packages" in parts and "archc" not in parts


def _quiet_libraries(debug: bool) -> Any:
    """Hold back the Python warnings torch and the exporters raise while a command runs (archc's
    own findings are diagnostics; a raw `UserWarning` from deep inside torch helps nobody). With
    --debug they are shown, as they came."""
    import contextlib

    @contextlib.contextmanager
    def quiet():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                yield
            finally:
                for w in caught:
                    if debug or not _from_third_party(w):
                        sys.stderr.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))
    return quiet()


def run_command(fn: Callable[[], int], debug: bool = False) -> None:
    """Run a command body and turn every outcome into a documented exit code."""
    try:
        with _quiet_libraries(debug):
            code = fn()
    except typer.Exit:
        raise
    except (UsageError, MissingDependency, DiagnosticError, KeyboardInterrupt) as e:
        report_error(e)
        code = exit_code(e)
    except Exception as e:  # a bug: one line, the traceback only with --debug
        if debug:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"archc: internal error: {type(e).__name__}: {e}\n"
                         f"This is a bug in archc; please report it at {REPORT_URL}"
                         + ("" if debug else " (rerun with --debug for the traceback)") + "\n")
        code = exit_code(e)
    raise typer.Exit(code)


def report_error(e: BaseException) -> None:
    """How each kind of error is shown on stderr (its exit code is `archc.errors.exit_code`)."""
    if isinstance(e, DiagnosticError):
        print_diagnostics(e.diagnostics, e.sources)
    elif isinstance(e, UsageError):
        sys.stderr.write(f"archc: error: {e}\n")
    elif isinstance(e, MissingDependency):
        sys.stderr.write(f"archc: {e}\n")
    elif isinstance(e, KeyboardInterrupt):
        sys.stderr.write("archc: interrupted\n")


def require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise EnvironmentMissing(f"this command needs torch: {pip_install('torch')}") from None


def spec_path(path: str) -> str:
    """`path` when it names a regular file (after symlinks); else a UsageError (exit 2) saying why.
    Devices, FIFOs and sockets are refused before anything opens them (a FIFO would block)."""
    from archc.spec.load import file_kind

    kind = file_kind(path)
    if kind == "missing":
        raise UsageError(f"no such file: {path}")
    if kind == "folder":
        raise UsageError(f"{path} is a folder; give a spec file")
    if kind != "file":
        raise UsageError(f"{path} is not a regular file ({kind}); give a spec file")
    return path
