"""Export: compile a spec and write verified artifacts (`archc build`).

`registry` (the export-format registry), `formats/` (one module per format: `pt2`, `onnx`,
`torchscript`, `source`, `state_dict`; each registers itself), `verify` (reloading and comparing,
locating the first divergent node), `dynamic` (the spec's symbols as exporter dims), `manifest`,
`atomic` (staging and committing files) and `build` (the orchestration).
"""
from __future__ import annotations

from archc.export.build import DEFAULT_EMIT, BuildResult, MissingExtra, build
from archc.export.registry import FORMATS, ExportContext, ExportFormat, register_format

__all__ = ["build", "BuildResult", "FORMATS", "DEFAULT_EMIT", "MissingExtra", "ExportFormat", "ExportContext",
           "register_format"]
