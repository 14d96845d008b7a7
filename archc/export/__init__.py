"""Export: compile a spec and write verified artifacts (`archc build`).

One module per format (`pt2`, `onnx`, `torchscript`, `source`, `state_dict`), `verify` (reloading
and comparing, locating the first divergent node), `dynamic` (the spec's symbols as exporter dims),
`manifest`, `atomic` (staging and committing files) and `build` (the orchestration).
"""
from __future__ import annotations

from archc.export.build import DEFAULT_EMIT, FORMATS, BuildResult, MissingExtra, build

__all__ = ["build", "BuildResult", "FORMATS", "DEFAULT_EMIT", "MissingExtra"]
