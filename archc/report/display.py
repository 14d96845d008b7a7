"""What the Python API's commands return: a result that prints like the command, displays in a
notebook (rich and HTML), and holds the command's `--json` document (`.doc`).

`Report` wraps a document and the renderer the command uses on a terminal; `Picture` wraps the
bytes `archc graph` writes (SVG, PNG or text), shown inline by Jupyter. Torch-free.
"""
from __future__ import annotations

import io
import json
from typing import Any, Callable


class Report:
    """A command's result: `.doc` is its JSON document; `str()` is the text the command prints;
    in a notebook it renders as the command's table (`_repr_html_`, or rich's own display)."""

    def __init__(self, kind: str, doc: dict[str, Any], render: Callable[[Any, dict[str, Any]], None],
                 ok: bool = True, **extra: Any):
        self.kind, self.doc, self._render, self.ok = kind, doc, render, ok
        for k, v in extra.items():
            setattr(self, k, v)

    def _console(self, width: int = 100) -> Any:
        from rich.console import Console

        con = Console(file=io.StringIO(), record=True, width=width, color_system="truecolor", force_terminal=False,
                      force_jupyter=False, soft_wrap=False)
        self._render(con, self.doc)
        return con

    def __str__(self) -> str:
        return self._console().export_text(styles=False).rstrip("\n")

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        con = self._console(options.max_width)
        yield Text.from_ansi(con.export_text(styles=True).rstrip("\n"))

    def _repr_html_(self) -> str:
        return self._console().export_html(inline_styles=True, code_format="<pre style=\"font-family:monospace\">{code}</pre>")

    def __repr__(self) -> str:
        return f"<archc {self.kind} report: {'ok' if self.ok else 'failed'}>"

    def __getitem__(self, key: str) -> Any:
        return self.doc[key]

    def to_json(self) -> str:
        return json.dumps(self.doc, indent=2, default=str)


class Picture:
    """`archc graph`'s output: `.data` (bytes) in `.format`; Jupyter shows SVG and PNG inline and
    Mermaid as a fenced block; `.save(path)` writes it."""

    def __init__(self, data: bytes, fmt: str):
        self.data, self.format = data, fmt

    def _repr_svg_(self) -> str | None:
        return self.data.decode("utf-8") if self.format == "svg" else None

    def _repr_png_(self) -> bytes | None:
        return self.data if self.format == "png" else None

    def _repr_markdown_(self) -> str | None:
        return f"```mermaid\n{self.data.decode('utf-8')}\n```" if self.format == "mermaid" else None

    def __str__(self) -> str:
        return self.data.decode("utf-8", errors="replace") if self.format not in ("png", "jpg", "pdf") else repr(self)

    def __repr__(self) -> str:
        return f"<archc picture: {self.format}, {len(self.data):,} bytes>"

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.data)
