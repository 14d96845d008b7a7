"""archc: a compiler from YAML architecture specs to verified PyTorch modules.

The public API is imported lazily, so `import archc.spec...` stays cheap for the linter.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["compile", "infer", "load_spec", "Diagnostic", "DiagnosticError", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("compile", "infer", "load_spec"):
        from archc import api

        return getattr(api, name)
    if name in ("Diagnostic", "DiagnosticError"):
        from archc import diagnostics

        return getattr(diagnostics, name)
    raise AttributeError(f"module 'archc' has no attribute {name!r}")
