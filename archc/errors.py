"""archc's errors, and the one place where an error becomes an exit code.

Three kinds of failure reach a user, each one class:

- `UsageError` (exit 2): the command line is wrong (a bad flag value, a path that is not a spec,
  an output folder that exists without `--force`).
- `MissingDependency` (exit 3): an optional package or device is missing; the message names what
  to install (`pip install 'archc-compiler[export]'`, written by `pip_install`).
- `DiagnosticError` (exit 1): the spec, or a result computed from it, is wrong; it carries located
  diagnostics and the source texts they point into, so any layer can render them.

Anything else is a bug in archc (exit 4). This module is a leaf: it imports nothing of archc.
"""
from __future__ import annotations

from typing import Any, Iterable

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_ENV, EXIT_INTERNAL = 0, 1, 2, 3, 4

# archc's distribution on the package index. The name `archc` there is another project's, so the
# distribution is `archc-compiler`; the import name and the command stay `archc`.
DISTRIBUTION = "archc-compiler"


def pip_install(extra: str | None = None) -> str:
    """The command that installs archc with EXTRA (`pip install 'archc-compiler[export]'`)."""
    return f"pip install '{DISTRIBUTION}[{extra}]'" if extra else f"pip install {DISTRIBUTION}"


class ArchcError(Exception):
    """Base of every error archc raises on purpose; `exit_code` is what the CLI exits with."""

    exit_code = EXIT_INTERNAL


class UsageError(ArchcError):
    """Bad arguments or a bad place to work in: exit code 2."""

    exit_code = EXIT_USAGE


class MissingDependency(ArchcError):
    """An optional dependency (package, program or device) is missing: exit code 3.
    The message says what to install."""

    exit_code = EXIT_ENV


class DiagnosticError(ArchcError):
    """Raised by a stage that cannot continue; carries every diagnostic found so far and the
    source texts (display file name -> text) they point into."""

    exit_code = EXIT_FAIL

    def __init__(self, diagnostics: Iterable[Any], sources: dict[str, str] | None = None):
        self.diagnostics = list(diagnostics)
        self.sources: dict[str, str] = dict(sources) if sources else {}
        super().__init__("; ".join(f"{d.code} {d.message}" for d in self.diagnostics))

    def with_sources(self, sources: dict[str, str]) -> "DiagnosticError":
        """The same error, its sources completed with `sources` (texts already held win)."""
        for k, v in sources.items():
            self.sources.setdefault(k, v)
        return self


def exit_code(error: BaseException) -> int:
    """The documented exit code of an error (see `archc --help`): 1, 2, 3, 130 or 4 for a bug."""
    if isinstance(error, ArchcError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return 130
    return EXIT_INTERNAL
