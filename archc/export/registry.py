"""The export-format registry: everything `archc build` knows about a format, registered once.

A format is one file in `archc/export/formats/` that calls `register_format(ExportFormat(...))`
with what it needs (optional packages and the install hint), the files it writes, how it exports
(`export(ctx, entry)`), how the artifact is reloaded for verification (`load(ctx)`, a `Runner`)
and how it is compared (`bitwise`: also exactly equal to the compiled module on float32). The
build, `--emit`, the manifest and `--force`'s cleanup read the registry; nothing else lists formats.
"""
from __future__ import annotations

import importlib
import pkgutil
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from archc.errors import pip_install

if TYPE_CHECKING:
    from archc.export.atomic import Staging
    from archc.export.dynamic import SymbolPlan
    from archc.export.verify import Runner
    from archc.ir.graph import Graph

EXPORT_EXTRA = pip_install("export")


@dataclass
class ExportContext:
    """What a format's `export` and `load` may use: the compiled module and its IR, the symbol
    plans, the build's options, the staging folder, and the build's notes and diagnostics."""

    gm: Any
    graph: "Graph"
    plans: dict[str, "SymbolPlan"]
    stage: "Staging"
    opset: int
    dtype: str
    spec: str
    spec_sha256: str
    archc_version: str
    result: Any                       # the BuildResult: `notes` and `diagnostics` a format adds to
    program: Any = None               # the torch.export program, when a format `uses_program`
    program_seconds: float = 0.0      # how long tracing it took

    def file(self, name: str) -> str:
        """The staged path of the artifact file `name`."""
        return self.stage.file(name)

    def trace_inputs(self) -> tuple:
        """Example inputs at the export sizes, in the build's dtype (for tracing exporters)."""
        from archc.export.verify import make_inputs

        return tuple(make_inputs(self.graph, {n: p.export_size for n, p in self.plans.items()}, self.dtype).values())

    def note(self, text: str) -> None:
        """A build-level note (printed once on stderr), e.g. a deprecation."""
        if text not in self.result.notes:
            self.result.notes.append(text)


ExportFn = Callable[[ExportContext, dict], list]      # writes files, fills the manifest entry -> files written
LoadFn = Callable[[ExportContext], "Runner"]          # reloads the written artifact in its own runtime


@dataclass(frozen=True)
class ExportFormat:
    """One `--emit` format.

    `files`: every file name the format may write (the build's `--force` removes stale ones);
    `exporter`: the manifest's `exporter` (an `export` may overwrite it, e.g. a fallback);
    `needs`: importable packages it requires, and `install` the hint when one is missing;
    `default`: part of the default `--emit`; `order`: its place in `all` and in the manifest;
    `uses_program`: it translates the shared `torch.export` program (traced once per build);
    `uses_opset`: the build's `--opset` is recorded in the manifest when such a format is built;
    `bitwise`: on float32 its outputs are also checked for exact equality (`bitwise_equal`).
    """

    name: str
    files: tuple[str, ...]
    exporter: str
    export: ExportFn
    load: LoadFn
    needs: tuple[str, ...] = ()
    install: str = EXPORT_EXTRA
    default: bool = False
    order: int = 100
    uses_program: bool = False
    uses_opset: bool = False
    bitwise: bool = False


FORMATS: dict[str, ExportFormat] = {}


def register_format(fmt: ExportFormat) -> ExportFormat:
    """Register `fmt` (once per name); FORMATS stays sorted by `order`, then name."""
    if fmt.name in FORMATS:
        raise ValueError(f"export format {fmt.name!r} registered twice")
    if fmt.name == "all" or not fmt.name.isidentifier():
        raise ValueError(f"export format name {fmt.name!r}: an identifier other than `all`")
    FORMATS[fmt.name] = fmt
    ordered = sorted(FORMATS.values(), key=lambda f: (f.order, f.name))
    FORMATS.clear()
    FORMATS.update((f.name, f) for f in ordered)
    return fmt


def unregister_format(name: str) -> None:
    """Remove a format (tests that register a throwaway one)."""
    FORMATS.pop(name, None)


_loaded = False


def load_formats() -> dict[str, ExportFormat]:
    """Import every module of `archc.export.formats` (each registers its format), once."""
    global _loaded
    if not _loaded:
        _loaded = True
        import archc.export.formats as pkg

        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{pkg.__name__}.{info.name}")
    return FORMATS


def default_emit() -> tuple[str, ...]:
    return tuple(name for name, f in load_formats().items() if f.default)


def owned_files() -> frozenset[str]:
    """Every artifact file name a registered format may write."""
    return frozenset(name for f in load_formats().values() for name in f.files)


def timed() -> Callable[[], float]:
    """A stopwatch: `elapsed = timed(); ...; elapsed()` in seconds."""
    t0 = time.perf_counter()
    return lambda: time.perf_counter() - t0
