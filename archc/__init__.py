"""archc: a compiler from YAML architecture specs to verified PyTorch modules."""
from __future__ import annotations

__version__ = "0.1.0"

from archc.api import compile, infer, load_spec  # noqa: E402
from archc.diagnostics import Diagnostic, DiagnosticError  # noqa: E402

__all__ = ["compile", "infer", "load_spec", "Diagnostic", "DiagnosticError", "__version__"]
