"""Pictures of a graph in each format: DOT and Mermaid in pure Python, SVG and PNG through
Graphviz's `dot` program (a subprocess with a timeout), and an atomic file write."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Iterable

from archc.errors import MissingDependency
from archc.ir.graph import Graph

FORMATS = ("svg", "png", "dot", "mermaid")
BINARY_FORMATS = ("png",)
EXTENSIONS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid"}
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


def run_dot(dot_text: str, fmt: str, timeout: float = DOT_TIMEOUT_S) -> bytes:
    exe = find_dot()
    if exe is None:
        raise MissingDependency(missing_dot_message(fmt))
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GraphvizFailed(f"`dot -T{fmt}` ran past {timeout:g} s") from None
    except OSError as e:
        raise MissingDependency(f"{missing_dot_message(fmt)} ({e})") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphvizFailed(f"`dot -T{fmt}` failed with exit code {proc.returncode}: {' / '.join(err[:3])}")
    return proc.stdout


def render(graph: Graph, fmt: str = "dot", expand: Iterable[str] = (), depth: int = 0, annotate: str = "none") -> bytes:
    """The picture of `graph` as bytes in `fmt` (svg, png, dot or mermaid; text is UTF-8)."""
    from archc.draw.dot import to_dot
    from archc.draw.mermaid import to_mermaid
    from archc.draw.view import build_view

    if fmt not in FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}; choose one of {', '.join(FORMATS)}")
    view = build_view(graph, expand, depth, annotate)
    if fmt == "mermaid":
        return to_mermaid(view).encode("utf-8")
    text = to_dot(view)
    if fmt == "dot":
        return text.encode("utf-8")
    return run_dot(text, fmt)


def format_for(path: str | None) -> str | None:
    """The format a file name implies (`model.svg` -> svg), or None."""
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
