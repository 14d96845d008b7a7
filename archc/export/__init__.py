"""Export: compile a spec and write verified artifacts (`archc build`).

`registry` (the export-format registry), `formats/` (one module per format: `pt2`, `onnx`,
`torchscript`, `source`, `state_dict`; each registers itself), `verify` (reloading and comparing,
locating the first divergent node), `dynamic` (the spec's symbols as exporter dims), `manifest`,
`atomic` (staging and committing files) and `build` (the emit stage of archc.pipeline; the whole
command is `archc.api.build`).
"""
from __future__ import annotations

from archc.export.build import DEFAULT_EMIT, BuildRequest, BuildResult, MissingExtra, emit
from archc.export.registry import FORMATS, ExportContext, ExportFormat, register_format

__all__ = ["emit", "BuildRequest", "BuildResult", "FORMATS", "DEFAULT_EMIT", "MissingExtra", "ExportFormat", "ExportContext",
           "register_format"]
