"""Lint configuration: `[tool.archc.lint]` in the nearest `pyproject.toml`, then the command line.

    [tool.archc.lint]
    select = ["ARC3", "ARC4", "ARC5"]        # codes or prefixes ("ALL"); default: every rule
    ignore = ["ARC401"]
    per-file-ignores = {"specs/legacy/*.yaml" = ["ARC301"]}
    exclude = ["tests/bad/*"]                # globs skipped when walking folders
    fail-on = "error"                        # or "warning", "info"
    opset = 18                               # ONNX opset for ARC5xx

Patterns are matched against paths relative to the folder of that `pyproject.toml`.
"""
from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from archc.errors import UsageError

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
DEFAULT_SELECT = ("ARC3", "ARC4", "ARC5")
_PATTERN = re.compile(r"^ARC\d{0,3}$")
_KEYS = {"select", "ignore", "per-file-ignores", "exclude", "fail-on", "opset"}


ConfigError = UsageError  # one error class per kind: archc.errors


@dataclass
class LintConfig:
    select: tuple[str, ...] = DEFAULT_SELECT
    ignore: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    fail_on: str = "error"
    opset: int = 18
    root: Path = field(default_factory=Path.cwd)   # patterns are relative to this folder
    source: Path | None = None                     # the pyproject.toml it came from

    def enabled(self, code: str, files: tuple[str, ...] = ()) -> bool:
        if not any(matches(code, p) for p in self.select) or any(matches(code, p) for p in self.ignore):
            return False
        for f in files:
            rel = self.relative(f)
            for pat, codes in self.per_file_ignores.items():
                if fnmatch.fnmatchcase(rel, pat) and any(matches(code, c) for c in codes):
                    return False
        return True

    def excluded(self, path: str) -> bool:
        rel = self.relative(path)
        return any(fnmatch.fnmatchcase(rel, pat) or fnmatch.fnmatchcase(rel + "/", pat) for pat in self.exclude)

    def relative(self, path: str) -> str:
        try:
            return Path(os.path.relpath(os.path.abspath(path), self.root)).as_posix()
        except ValueError:  # pragma: no cover - another drive on Windows
            return Path(path).as_posix()


def matches(code: str, pattern: str) -> bool:
    return pattern == "ALL" or code.startswith(pattern)


def check_patterns(patterns: Any, what: str) -> tuple[str, ...]:
    if isinstance(patterns, str):
        patterns = [p for p in re.split(r"[,\s]+", patterns) if p]
    if not isinstance(patterns, (list, tuple)) or not all(isinstance(p, str) for p in patterns):
        raise UsageError(f"{what} must be a list of codes or prefixes, e.g. [\"ARC301\", \"ARC4\"]")
    out = []
    for p in patterns:
        p = p.strip().upper()
        if p != "ALL" and not _PATTERN.match(p):
            raise UsageError(f"{what}: {p!r} is not a code or prefix (ARC301, ARC3, ALL)")
        out.append(p)
    return tuple(out)


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a `[tool.archc.lint]` table."""
    cur = start.resolve()
    if cur.is_file():
        cur = cur.parent
    for d in (cur, *cur.parents):
        p = d / "pyproject.toml"
        if p.is_file():
            try:
                text = p.read_text(encoding="utf-8")
            except OSError:
                continue
            if re.search(r"^\s*\[\s*tool\s*\.\s*archc\s*\.\s*lint\s*\]", text, re.M) or "[tool.archc]" in text:
                return p
    return None


def load_config(pyproject: Path | None) -> LintConfig:
    if pyproject is None:
        return LintConfig()
    try:
        import tomllib
    except ImportError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise UsageError(f"{pyproject}: reading [tool.archc.lint] on Python 3.10 needs `pip install tomli`") from None
    try:
        doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{pyproject}: {e}") from None
    table = doc.get("tool", {}).get("archc", {}).get("lint", {})
    if not isinstance(table, dict):
        raise UsageError(f"{pyproject}: [tool.archc.lint] must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise UsageError(f"{pyproject}: unknown key(s) in [tool.archc.lint]: {', '.join(unknown)} "
                          f"(allowed: {', '.join(sorted(_KEYS))})")
    cfg = LintConfig(root=pyproject.parent.resolve(), source=pyproject)
    where = f"{pyproject} [tool.archc.lint]"
    if "select" in table:
        cfg.select = check_patterns(table["select"], f"{where} select")
    if "ignore" in table:
        cfg.ignore = check_patterns(table["ignore"], f"{where} ignore")
    pfi = table.get("per-file-ignores", {})
    if not isinstance(pfi, dict):
        raise UsageError(f"{where} per-file-ignores must be a table of glob = [codes]")
    cfg.per_file_ignores = {str(k): check_patterns(v, f"{where} per-file-ignores {k!r}") for k, v in pfi.items()}
    ex = table.get("exclude", [])
    if not isinstance(ex, list) or not all(isinstance(x, str) for x in ex):
        raise UsageError(f"{where} exclude must be a list of globs")
    cfg.exclude = tuple(ex)
    if "fail-on" in table:
        cfg.fail_on = check_fail_on(table["fail-on"], f"{where} fail-on")
    if "opset" in table:
        cfg.opset = check_opset(table["opset"], f"{where} opset")
    return cfg


def check_fail_on(value: Any, what: str) -> str:
    if value not in SEVERITY_RANK:
        raise UsageError(f"{what} must be one of error, warning, info; got {value!r}")
    return value


def check_opset(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 7 <= value <= 30:
        raise UsageError(f"{what} must be an ONNX opset number between 7 and 30; got {value!r}")
    return value
