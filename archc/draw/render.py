"""Pictures of a graph in each format: DOT, Mermaid and Markdown (a Mermaid block) in pure Python;
SVG, PNG, PDF and JPEG through Graphviz's `dot` program (a subprocess with a timeout); an atomic
file write."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Iterable

from archc.errors import MissingDependency
from archc.ir.graph import Graph

FORMATS = ("svg", "png", "pdf", "jpg", "dot", "mermaid", "markdown")
GRAPHVIZ_FORMATS = ("svg", "png", "pdf", "jpg")   # through `dot -T<format>`
BINARY_FORMATS = ("png", "pdf", "jpg")            # never written to a terminal
RASTER_FORMATS = ("png", "jpg")                   # the ones `dpi` applies to
ALIASES = {"jpeg": "jpg", "gv": "dot", "mmd": "mermaid", "md": "markdown"}
EXTENSIONS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".jpg": "jpg", ".jpeg": "jpg", ".dot": "dot", ".gv": "dot",
              ".mmd": "mermaid", ".mermaid": "mermaid", ".md": "markdown"}
MAX_DPI = 1200
DOT_TIMEOUT_S = 120.0


GraphvizMissing = MissingDependency  # one error class per kind: archc.errors


class GraphvizFailed(Exception):
    """`dot` rejected the DOT text or ran past its timeout (a bug in the DOT we wrote)."""


def find_dot() -> str | None:
    return shutil.which("dot")


def missing_dot_message(fmt: str) -> str:
    return (f"--format {fmt} needs Graphviz's `dot` program, which is not on PATH. Install Graphviz "
            "(apt-get install graphviz, brew install graphviz, conda install graphviz, or https://graphviz.org/download/), "
            "or use --format dot or --format mermaid, which need nothing")


def run_dot(dot_text: str, fmt: str, timeout: float = DOT_TIMEOUT_S, dpi: int | None = None) -> bytes:
    exe = find_dot()
    if exe is None:
        raise MissingDependency(missing_dot_message(fmt))
    args = [exe, f"-T{fmt}"] + ([f"-Gdpi={dpi}"] if dpi is not None else [])
    try:
        proc = subprocess.run(args, input=dot_text.encode("utf-8"), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GraphvizFailed(f"`dot -T{fmt}` ran past {timeout:g} s") from None
    except OSError as e:
        raise MissingDependency(f"{missing_dot_message(fmt)} ({e})") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphvizFailed(f"`dot -T{fmt}` failed with exit code {proc.returncode}: {' / '.join(err[:3])}")
    return proc.stdout


def normal_format(fmt: str) -> str:
    """`fmt` lower-cased with its aliases resolved (jpeg -> jpg, md -> markdown); not checked."""
    f = fmt.strip().lower()
    return ALIASES.get(f, f)


def render(graph: Graph, fmt: str = "dot", expand: Iterable[str] = (), depth: int | None = 0, annotate: str = "none",
           *, rankdir: str = "TB", dpi: int | None = None, legend: bool = True) -> bytes:
    """The picture of `graph` as bytes in `fmt` (svg, png, pdf, jpg, dot, mermaid or markdown; text
    is UTF-8). `rankdir` is TB, LR, BT or RL; `dpi` sets the resolution of png and jpg."""
    from archc.draw.dot import to_dot
    from archc.draw.mermaid import to_mermaid
    from archc.draw.view import build_view

    fmt = normal_format(fmt)
    if fmt not in FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if dpi is not None and (fmt not in RASTER_FORMATS or not 1 <= dpi <= MAX_DPI):
        raise ValueError(f"dpi applies to {' and '.join(RASTER_FORMATS)} only, from 1 to {MAX_DPI}; got {dpi} for {fmt}")
    view = build_view(graph, expand, depth, annotate, rankdir=rankdir.upper(), legend=legend)
    if fmt == "mermaid":
        return to_mermaid(view).encode("utf-8")
    if fmt == "markdown":
        return ("```mermaid\n" + to_mermaid(view) + "```\n").encode("utf-8")
    text = to_dot(view)
    if fmt == "dot":
        return text.encode("utf-8")
    return run_dot(text, fmt, dpi=dpi)


def format_for(path: str | None) -> str | None:
    """The format a file name implies (`model.svg` -> svg, `model.md` -> markdown), or None."""
    if path is None:
        return None
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


def write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and `os.replace`, so a
    reader never sees half a picture. An existing file is overwritten."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".archc-graph-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
