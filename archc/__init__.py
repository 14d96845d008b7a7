"""archc: a compiler from YAML architecture specs to verified PyTorch modules.

Every command is a function here (`check`, `lint`, `profile`, `graph`, `compare`, `build`), beside
`load_spec`, `infer` and `compile` (archc.api). Each takes a spec path, a `LoadedSpec` or a mapping;
the commands return a `Report` that prints like the command and displays as its table in a notebook
(`graph` returns a `Picture`). Problems raise `DiagnosticError`, whose `str()` is the located,
rendered diagnostics. The API is imported lazily, so `import archc.spec...` stays cheap for the linter.
"""
from __future__ import annotations

from typing import Any

from archc import errors as _errors

__version__ = "0.1.0"
_API = ("check", "lint", "profile", "graph", "compare", "build", "compile", "infer", "load_spec")
__all__ = [*_API, "Diagnostic", "DiagnosticError", "UsageError", "MissingDependency", "__version__"]


def _render(diagnostics: list, sources: dict) -> str:
    from archc.report.text import render_diagnostics

    return render_diagnostics(diagnostics, sources).rstrip("\n")


_errors.RENDER = _render


def _command(name: str) -> Any:
    from archc import api

    return getattr(api, name)


def __getattr__(name: str) -> Any:
    if name in _API:
        return _command(name)
    if name in ("Diagnostic", "DiagnosticError"):
        from archc import diagnostics

        return getattr(diagnostics, name)
    if name in ("UsageError", "MissingDependency"):
        return getattr(_errors, name)
    raise AttributeError(f"module 'archc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
