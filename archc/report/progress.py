"""Where a long command is, on stderr: the stages of archc.pipeline and the steps inside them
(each artifact exported and verified, each seed compared), as they start.

On a terminal it is one transient rich status line (spinner, step, elapsed seconds) that is gone
when the command ends, so the final screen is the command's output alone. On any other stream
(a CI log, a pipe) it is plain lines, `archc: 12.3 s: exporting onnx`, starting once the command
has run for a second, so quick commands print nothing extra. `--json` turns it off, and so does
`ARCHC_PROGRESS=never` (the test suite's default; `always` prints plain lines from the start).
Torch-free.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

AFTER_S = 1.0          # plain lines start once a command has run this long

STAGE_TEXT = {
    "load": "reading the spec", "validate": "validating", "elaborate": "inferring shapes",
    "check": "checking the IR", "lint": "linting", "lower": "building the module",
    "verify": "verifying every node's shape", "emit": "exporting", "measure": "profiling",
}


class Progress:
    """A callable `progress(step)`; use as a context manager around the command's work."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None, after: float = AFTER_S):
        mode = os.environ.get("ARCHC_PROGRESS", "auto").lower()
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and mode != "never"
        self.after = 0.0 if mode == "always" else after
        self.terminal = self.enabled and mode != "always" and _isatty(self.stream)
        self.t0 = time.perf_counter()
        self.status: Any = None
        self.steps: list[str] = []

    def __enter__(self) -> "Progress":
        self.t0 = time.perf_counter()
        if self.terminal:
            from rich.console import Console

            self.status = Console(file=self.stream, highlight=False).status("archc: starting", spinner="dots")
            self.status.start()
        return self

    def __exit__(self, *exc: Any) -> bool:
        if self.status is not None:
            self.status.stop()
            self.status = None
        return False

    def __call__(self, step: str) -> None:
        if not self.enabled:
            return
        text = STAGE_TEXT.get(step, step)
        self.steps.append(text)
        elapsed = time.perf_counter() - self.t0
        if self.status is not None:
            from rich.markup import escape

            self.status.update(f"archc: {escape(text)} [dim]({elapsed:.1f} s)[/dim]")
        elif elapsed >= self.after:
            self.stream.write(f"archc: {elapsed:.1f} s: {text}\n")
            self.stream.flush()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
