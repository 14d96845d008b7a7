"""The lint driver: collect spec files, load and elaborate each (torch-free), run the enabled rules,
then apply inline suppressions, per-file ignores and de-duplication.

Spec errors (ARC0xx-ARC2xx, ARC6xx) found while loading or elaborating are reported as they are;
`--select`/`--ignore` and inline suppressions apply to lint rules (ARC3xx-ARC5xx) only. Files in a
folder named `lib/` are block libraries: they are checked for YAML, schema and import problems and
by the rules marked `library` (block params never read); their blocks are linted through the models
that use them, with findings reported at the block's lines in the library.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from archc.diagnostics import Diagnostic, DiagnosticError
from archc.lint_driver.config import SEVERITY_RANK, LintConfig, find_pyproject, load_config
from archc.lint._context import LintContext
from archc.lint._registry import Rule, load_rules
from archc.ir.gc_pause import paused
from archc.lint.stage import LintInternalError, run_rules
from archc.lint_driver.suppress import is_suppressed

LINT_PREFIXES = ("ARC3", "ARC4", "ARC5")
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox",
                       ".mypy_cache", ".pytest_cache", "build", "dist"})
_SPEC_MARK = re.compile(r"""^["']?archc["']?\s*:""", re.M)
_FLOW_START = re.compile(r"\A(?:\s*(?:#[^\n]*|%[^\n]*|---))*\s*\{")    # after comments, directives, `---`
_FLOW_KEY = re.compile(r"""\s*["']?archc["']?\s*:""")


def _flow_spec(head: str) -> bool:
    """Whether HEAD is a spec written in flow style (`{archc: 1, name: ...}`, or JSON): `archc` is a
    key of the mapping that opens the document (not of one nested in it)."""
    m = _FLOW_START.match(head)
    if m is None:
        return False
    depth, quote, i = 1, "", m.end()
    if _FLOW_KEY.match(head, i):
        return True
    while i < len(head) and depth:
        c = head[i]
        if quote:
            quote = "" if c == quote and head[i - 1] != "\\" else quote
        elif c in "\"'":
            quote = c
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        elif c == "," and depth == 1 and _FLOW_KEY.match(head, i + 1):
            return True
        i += 1
    return False


@dataclass
class LintOptions:
    select: tuple[str, ...] | None = None   # replaces the configured select
    ignore: tuple[str, ...] = ()            # added to the configured ignore
    fail_on: str | None = None
    opset: int | None = None
    config: LintConfig | None = None        # None: discover from pyproject.toml
    skip_non_specs: bool = False            # skip explicitly named YAML files that are not archc specs
    jobs: int = 0                           # worker processes; 0: one per CPU (up to 8) for many files
    fix: bool = False                       # plan the safe fixes of the findings (`archc lint --fix`)
    texts: dict[str, str] = field(default_factory=dict)  # display path -> text to lint instead of the file's


@dataclass
class FileResult:
    file: str                               # display path of the linted file
    kind: str                               # "model", "library"
    diagnostics: list[Diagnostic] = field(default_factory=list)
    suppressed: int = 0
    fixes: list = field(default_factory=list)   # with `fix`: (diagnostic, archc.lint_driver.fix.Edit)


@dataclass
class LintRun:
    results: list[FileResult]
    sources: dict[str, str]                 # display path -> text, for rendering excerpts
    fail_on: str = "error"
    skipped: list[str] = field(default_factory=list)
    internal_errors: list[tuple[str, str]] = field(default_factory=list)  # (file, message): archc bugs

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for r in self.results for d in r.diagnostics]

    @property
    def failed(self) -> bool:
        bar = SEVERITY_RANK[self.fail_on]
        return any(SEVERITY_RANK.get(d.severity, 2) >= bar for d in self.diagnostics)


def is_lint_code(code: str) -> bool:
    return code.startswith(LINT_PREFIXES)


def display_path(path: str | os.PathLike) -> str:
    """The name diagnostics use for a file: relative to the working directory, as the loader does."""
    from archc.spec.load import display_path as loader_display

    return loader_display(Path(path))


def file_kind(path: str | os.PathLike) -> str:
    """"file", "folder", "missing" or what else a path is (`archc.spec.load.file_kind`); never opens it."""
    from archc.spec.load import file_kind as kind

    return kind(path)


def looks_like_spec(path: Path) -> bool:
    """An archc spec has a top-level `archc:` key, in block or flow style (or the archc schema modeline)."""
    try:
        with open(path, "rb") as f:
            head = f.read(65536).decode("utf-8", errors="replace")
    except OSError:
        return True  # let the loader report it
    return bool(_SPEC_MARK.search(head) or _flow_spec(head)) or "archc.schema.json" in head


def is_library(path: Path) -> bool:
    return path.parent.name == "lib"


def collect_files(paths: Iterable[str], config_for, skip_non_specs: bool = False) -> tuple[list[Path], list[str]]:
    """Spec files under `paths` (files as given; folders walked for *.yaml / *.yml, in sorted order).
    Returns (files, skipped). A missing path raises FileNotFoundError."""
    files: list[Path] = []
    skipped: list[str] = []
    seen: set[Path] = set()

    def add(p: Path, walked: bool) -> None:
        try:
            rp = p.resolve()
        except (OSError, RuntimeError):  # a symlink loop: linted as it is named, and reported
            rp = p.absolute()
        if rp in seen:
            return
        seen.add(rp)
        if file_kind(p) != "file":  # a device, a FIFO, a broken link: never opened, an error
            files.append(p)
            return
        if (walked or skip_non_specs) and not looks_like_spec(p):
            skipped.append(str(p))
            return
        files.append(p)

    for raw in paths:
        p = Path(raw)
        kind = file_kind(p)
        if kind == "missing":
            raise FileNotFoundError(raw)
        if kind != "folder":
            add(p, False)
            continue
        cfg = config_for(p)
        for root, dirs, names in os.walk(p):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS
                             and not cfg.excluded(os.path.join(root, d)))
            for n in sorted(names):
                if n.endswith((".yaml", ".yml")):
                    fp = os.path.join(root, n)
                    if not cfg.excluded(fp):
                        add(Path(fp), True)
    return files, skipped


class Linter:
    def __init__(self, options: LintOptions | None = None):
        load_rules()
        self.options = options or LintOptions()
        self._configs: dict[Path, LintConfig] = {}

    def config_for(self, path: Path) -> LintConfig:
        if self.options.config is not None:
            return self.options.config
        try:
            start = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop
            start = path.absolute()
        key = start if file_kind(start) == "folder" else start.parent
        if key not in self._configs:
            cfg = load_config(find_pyproject(key))
            self._configs[key] = cfg
        return self._configs[key]

    def effective(self, cfg: LintConfig) -> LintConfig:
        o = self.options
        c = LintConfig(select=o.select if o.select is not None else cfg.select, ignore=cfg.ignore + tuple(o.ignore),
                       per_file_ignores=cfg.per_file_ignores, exclude=cfg.exclude,
                       fail_on=o.fail_on or cfg.fail_on, opset=o.opset or cfg.opset, root=cfg.root, source=cfg.source)
        return c

    # ------------------------------------------------------------------ one file
    def lint_file(self, path: str | os.PathLike, text: str | None = None) -> tuple[FileResult, dict[str, str]]:
        p = Path(path)
        cfg = self.effective(self.config_for(p))
        shown = display_path(p)
        if text is None:
            text = self.options.texts.get(shown)
        try:
            with paused():  # one file's stages build one large structure: no collection midway
                return self._lint(p, shown, cfg, text)
        except (KeyboardInterrupt, LintInternalError):
            raise
        except Exception as e:  # RecursionError included: a bug in the front end, not in the spec
            raise LintInternalError(shown, e) from e

    def _lint(self, p: Path, shown: str, cfg: LintConfig, text: str | None) -> tuple[FileResult, dict[str, str]]:
        from archc.pipeline import Options, Session, run

        library = is_library(p)
        result = FileResult(shown, "library" if library else "model")
        session = Session(Options(param_limit=None))  # lint allocates nothing
        unit = None
        try:
            unit = run(shown if text is not None else p, text=text, session=session, until="validate")
            session.report(unit.spec.warnings)
        except DiagnosticError:
            if text is not None or file_kind(p) == "file":  # a device or FIFO has no text to show
                session.add_source(shown, _read(p) if text is None else text)
        except FileNotFoundError:
            raise
        spec = unit.spec if unit is not None else None
        graph = None
        if spec is not None:
            data = spec.main.loaded.data
            if isinstance(data, dict) and not data.get("layers") and data.get("blocks") and spec.extension is None:
                library = True
                result.kind = "library"
            if not library:
                try:
                    graph = run(unit, until="check").graph
                except DiagnosticError:
                    pass
        ctx = LintContext(shown, spec, graph, opset=cfg.opset, library=library)
        sources = session.sources
        diags = list(session.diagnostics)
        fixes: dict | None = {} if self.options.fix else None
        try:
            diags.extend(run_rules(ctx, lambda rule: self._runs(rule, ctx, cfg), fixes))
        except LintInternalError as e:
            raise LintInternalError(shown, e.exc) from e
        kept: list[Diagnostic] = []
        for d in _dedupe(diags):
            if is_lint_code(d.code):
                files = (shown,) + ((d.span.file,) if d.span is not None else ())
                if not cfg.enabled(d.code, files):
                    continue
                if d.span is not None and is_suppressed(d.code, d.span.line, sources.get(d.span.file)):
                    result.suppressed += 1
                    continue
            kept.append(d)
        result.diagnostics = sorted(kept, key=_order)
        if fixes:
            result.fixes = self._plan_fixes(p, shown, text, ctx, cfg, result.diagnostics, fixes)
        return result, sources

    def _plan_fixes(self, p: Path, shown: str, text: str | None, ctx: LintContext, cfg: LintConfig,
                    kept: list[Diagnostic], fixes: dict) -> list:
        """The kept findings' fixes in this file that every declared variant agrees with."""
        from archc.lint_driver.fix import offered, plan

        edits = offered(ctx, fixes, shown)
        if not edits:
            return []
        model = ctx.spec.main.model if ctx.spec is not None else None
        variants = None
        names = list(getattr(model, "variants", None) or {})
        if names:
            codes = {code for code, _ in edits}
            variants = []
            for name in names:
                seen = self._variant_offers(p, shown, text, name, codes, cfg)
                if seen is None:          # a variant that does not build: make no fix
                    return []
                variants.append(seen)
        return plan(kept, edits, variants)

    def _variant_offers(self, p: Path, shown: str, text: str | None, variant: str, codes: set, cfg: LintConfig):
        """(spans of the nodes variant `variant` builds, the edits its rules in `codes` offer), or
        None when it does not build."""
        from archc.lint_driver.fix import offered
        from archc.pipeline import Options, Session, run

        try:
            unit = run(shown if text is not None else p, text=text, until="check",
                       session=Session(Options(param_limit=None, variant=variant)))
        except DiagnosticError:
            return None
        graph = unit.graph
        ctx = LintContext(shown, unit.spec, graph, opset=cfg.opset)
        found: dict = {}
        run_rules(ctx, lambda rule: rule.code in codes, found)
        built = {(n.span.file, n.span.line, n.span.col) for n in graph.nodes if n.span is not None}
        return built, set(offered(ctx, found, shown).values())

    @staticmethod
    def _runs(rule: Rule, ctx: LintContext, cfg: LintConfig) -> bool:
        if ctx.spec is None or not cfg.enabled(rule.code):
            return False
        if ctx.library:
            return rule.library
        return rule.scope == "source" or ctx.graph is not None

    # ------------------------------------------------------------------ many files
    def lint_paths(self, paths: Iterable[str]) -> LintRun:
        files, skipped = collect_files(paths, self.config_for, self.options.skip_non_specs)
        run = LintRun([], {}, skipped=skipped)
        fail_ons = []
        seen: set[tuple] = set()
        for f, item in zip(files, self._lint_all(files)):
            if isinstance(item, LintInternalError):  # a bug: reported, and the other files still linted
                run.internal_errors.append((item.file, f"{type(item.exc).__name__}: {item.exc}"))
                continue
            res, sources = item
            fail_ons.append(self.effective(self.config_for(f)).fail_on)
            # a finding in a shared block or library is reported once per run
            uniq = []
            for d in res.diagnostics:
                key = (d.code, d.span, d.message) if not is_lint_code(d.code) else (d.code, d.span)
                if d.span is not None and d.span.file != res.file and key in seen:
                    continue
                seen.add(key)
                uniq.append(d)
            res.diagnostics = uniq
            run.results.append(res)
            run.sources.update(sources)
        run.fail_on = self.options.fail_on or (min(fail_ons, key=SEVERITY_RANK.get) if fail_ons else "error")
        return run


    def _lint_all(self, files: list[Path]) -> list:
        """Lint every file, in worker processes when there are many (forked after the op registry
        and the spec models are built, so workers start warm); results keep the files' order.
        A file whose linting hit a bug gives its LintInternalError instead of a result."""
        jobs = self.options.jobs or min(8, _cpus())
        if jobs <= 1 or len(files) < PARALLEL_MIN_FILES or "fork" not in _start_methods():
            return [_lint_or_error(self, f) for f in files]
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # warm the parent before forking, so no worker imports or registers anything again: the
        # pipeline's stages (imported lazily by `run`), the op registry and the rules
        import archc.elaborate  # noqa: F401
        import archc.spec.load  # noqa: F401
        from archc.lint import load_rules
        from archc.ops import load_ops

        load_ops()
        load_rules()
        global _WORKER
        _WORKER = self
        try:
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as ex:
                out = list(ex.map(_lint_in_worker, files, chunksize=max(1, len(files) // (jobs * 8))))
        finally:
            _WORKER = None
        return [LintInternalError(item[0], RuntimeError(item[1])) if isinstance(item[0], str) else item for item in out]


PARALLEL_MIN_FILES = 24
_WORKER: Linter | None = None


def _lint_or_error(linter: Linter, path: Path):
    try:
        return linter.lint_file(path)
    except LintInternalError as e:
        return e


def _lint_in_worker(path: Path) -> tuple:
    assert _WORKER is not None
    out = _lint_or_error(_WORKER, path)
    if isinstance(out, LintInternalError):  # exceptions need not pickle: send the text
        return (out.file, f"{type(out.exc).__name__}: {out.exc}")
    return out


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


def _read(p: Path) -> str:
    if file_kind(p) != "file":
        return ""
    try:
        return p.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _order(d: Diagnostic) -> tuple:
    s = d.span
    return (s.file, s.line, s.col, d.code) if s is not None else ("", 0, 0, d.code)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per (code, location) for lint rules: a block repeated N times gives one finding."""
    out: list[Diagnostic] = []
    index: dict[tuple, int] = {}
    counts: dict[tuple, int] = {}
    for d in diags:
        if not is_lint_code(d.code) or d.span is None:
            out.append(d)
            continue
        key = (d.code, d.span)
        if key in index:
            counts[key] += 1
            continue
        index[key] = len(out)
        counts[key] = 1
        out.append(d)
    for key, i in index.items():
        if counts[key] > 1:
            d = out[i]
            out[i] = Diagnostic(d.code, f"{d.message} (and {counts[key] - 1} more instance{'s' if counts[key] > 2 else ''} of this line)",
                                d.span, d.severity, d.hint, d.related)
    return out


def lint_paths(paths: Iterable[str], options: LintOptions | None = None) -> LintRun:
    """Lint files and folders; the Python API behind `archc lint`."""
    return Linter(options).lint_paths(paths)


def lint_text(text: str, name: str = "<spec>.yaml", options: LintOptions | None = None) -> FileResult:
    """Lint a spec given as text (imports resolve against the current folder)."""
    opts = options or LintOptions()
    if opts.config is None:
        opts = LintOptions(opts.select, opts.ignore, opts.fail_on, opts.opset, LintConfig(), opts.skip_non_specs, opts.jobs)
    return Linter(opts).lint_file(name, text=text)[0]
