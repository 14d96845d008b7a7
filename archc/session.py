"""The compilation session: what every stage of `archc.pipeline` reads and adds to.

A `Session` carries the options, the source texts diagnostics point into (spec files, imported
libraries, the command line) and the diagnostics found so far. Stages report problems into it and
keep going where they can, so one run shows every problem; a stage that cannot go on raises
`session.error()`, a `DiagnosticError` that already holds the sources. Torch-free.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NoReturn

from archc.diagnostics import Diagnostic, Span, has_errors
from archc.errors import DiagnosticError

DEFAULT_PARAM_LIMIT = 2_000_000_000
# the verify stage runs every node on fake tensors, about 1 ms a node and a size on a CPU: past this
# many nodes `archc check` neither lowers nor verifies (a warning says so) unless asked for
# (`archc check --verify-all`); other commands, which need the module, set no limit
VERIFY_MAX_NODES = 10_000
CMDLINE = "<command line>"   # the display name of the command line's text in rendered diagnostics


@dataclass
class Options:
    """What a user chose: `--set` overrides (and where each was written), `--variant`, the
    parameter limit, and the back end's device, dtype and in-place choice."""

    overrides: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None
    param_limit: int | None = DEFAULT_PARAM_LIMIT
    override_spans: dict[str, Span] = field(default_factory=dict)
    device: Any = None
    dtype: Any = None
    inplace: bool = True
    verify: bool = True
    verify_max_nodes: int | None = None     # past it, lower and verify are skipped (ARC607); `check` sets VERIFY_MAX_NODES


@dataclass
class Session:
    options: Options = field(default_factory=Options)
    sources: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # told each stage and step as it starts ("lower", "exporting onnx"): a command's progress display
    progress: Callable[[str], None] | None = None

    def step(self, what: str) -> None:
        """Say that WHAT starts now (a stage of the pipeline, or a step inside one)."""
        if self.progress is not None:
            self.progress(what)

    def add_source(self, name: str, text: str) -> None:
        """Remember a text diagnostics may point into (the first text of a name wins)."""
        self.sources.setdefault(name, text)

    def report(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics.extend(diagnostics)

    @property
    def failed(self) -> bool:
        return has_errors(self.diagnostics)

    def error(self, more: Iterable[Diagnostic] = ()) -> DiagnosticError:
        """The error that stops the run: every diagnostic so far (and `more`), with the sources."""
        self.diagnostics.extend(more)
        return DiagnosticError(self.diagnostics, self.sources)

    def fail(self, more: Iterable[Diagnostic] = ()) -> NoReturn:
        raise self.error(more)

    def check(self) -> None:
        """Stop here if an error has been reported."""
        if self.failed:
            raise self.error()
