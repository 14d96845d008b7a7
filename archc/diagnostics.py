"""Diagnostics are values: every user-facing problem is a `Diagnostic` with a permanent code.

Nothing here imports torch, rich or typer; rendering lives in `archc.report`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Span:
    """A location in a source file. Lines and columns are 1-based; `end_*` is exclusive."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Related:
    """A secondary location that explains a diagnostic (the node that produced the other shape)."""

    message: str
    span: Span | None = None


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None = None
    severity: Severity = "error"
    hint: str | None = None
    related: tuple[Related, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        def span_json(s: Span | None) -> dict | None:
            if s is None:
                return None
            return {"file": s.file, "line": s.line, "col": s.col, "end_line": s.end_line, "end_col": s.end_col}

        return {
            "code": self.code,
            "name": CODES.get(self.code, ("", ""))[0],
            "severity": self.severity,
            "message": self.message,
            "span": span_json(self.span),
            "hint": self.hint,
            "related": [{"message": r.message, "span": span_json(r.span)} for r in self.related],
        }


class DiagnosticError(Exception):
    """Raised by a stage that cannot continue; carries every diagnostic found so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("; ".join(f"{d.code} {d.message}" for d in self.diagnostics))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


# Permanent codes. Never renumber; retire a code by leaving it here with "(retired)".
# ARC0xx reading YAML, ARC1xx schema and structure, ARC2xx shapes and dtypes,
# ARC3xx design practice, ARC4xx performance, ARC5xx export, ARC6xx budgets and verification.
CODES: dict[str, tuple[str, str]] = {
    "ARC001": ("yaml-syntax", "The file is not valid YAML."),
    "ARC002": ("duplicate-key", "A mapping names the same key twice; YAML would silently keep the last."),
    "ARC003": ("unsafe-tag", "A YAML tag other than the standard ones (e.g. !!python/object) was used."),
    "ARC004": ("alias-limit", "YAML aliases expand past the allowed number of nodes (an alias bomb)."),
    "ARC005": ("nesting-limit", "YAML nesting is deeper than allowed."),
    "ARC006": ("file-too-large", "The spec file is larger than allowed."),
    "ARC007": ("unreadable-file", "The file cannot be read or decoded as UTF-8."),
    "ARC101": ("unknown-key", "A key the schema does not define."),
    "ARC102": ("wrong-type", "A value of the wrong type or out of its allowed set."),
    "ARC103": ("missing-key", "A required key is missing."),
    "ARC104": ("undefined-reference", "A reference to a node, input, block or param that does not exist."),
    "ARC105": ("duplicate-node", "Two nodes in the same scope share an id."),
    "ARC106": ("cycle", "The graph has a cycle."),
    "ARC107": ("bad-expression", "A ${...} expression is malformed or uses something not allowed."),
    "ARC108": ("expression-error", "A ${...} expression failed to evaluate."),
    "ARC109": ("missing-block-param", "A block is used without a value for a param that has no default."),
    "ARC110": ("unknown-variant", "--variant names a variant the spec does not define."),
    "ARC111": ("unsupported-version", "The spec's `archc:` format version is not known to this build."),
    "ARC112": ("bad-import", "An import cannot be found or escapes the allowed folders."),
    "ARC113": ("unknown-op", "An op or block name that is not registered or defined."),
    "ARC114": ("bad-override", "A --set override names an unknown param/symbol or has a bad value."),
    "ARC115": ("limit-exceeded", "A structural limit was exceeded (repeat count, node count)."),
    "ARC116": ("unknown-block-param", "A block is given an argument it does not declare."),
    "ARC117": ("name-clash", "A param and a symbol share a name."),
    "ARC118": ("bad-tie", "A weight tie names a parameter that does not exist or has another shape."),
    "ARC201": ("shape-mismatch", "Two shapes that must agree do not."),
    "ARC202": ("dtype-mismatch", "Two dtypes that must agree do not, or an op gets a dtype it cannot take."),
    "ARC203": ("constraint-violated", "A symbol's size violates a constraint derived from the ops."),
    "ARC204": ("invalid-attribute", "An op attribute is inconsistent with its input (groups, heads, kernel)."),
    "ARC205": ("rank-mismatch", "An op receives a tensor of the wrong rank."),
    "ARC206": ("non-positive-size", "A dimension would be zero or negative."),
    "ARC207": ("constraint-derived", "A constraint the ops impose on a symbol (information)."),
    "ARC601": ("param-budget", "The static parameter count exceeds the allowed budget."),
    "ARC602": ("verification-failed", "Executed shapes disagree with the inferred ones (a compiler bug)."),
}
