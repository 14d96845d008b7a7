"""Diagnostics are values: every user-facing problem is a `Diagnostic` with a permanent code.

Nothing here imports torch, rich or typer; rendering lives in `archc.report`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Literal

from archc.errors import DiagnosticError  # noqa: F401  (re-exported: the spec-failure error)

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
            "name": (code_info(self.code) or ("", ""))[0],
            "severity": self.severity,
            "message": self.message,
            "span": span_json(self.span),
            "hint": self.hint,
            "related": [{"message": r.message, "span": span_json(r.span)} for r in self.related],
        }


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


# Permanent codes. Never renumber; retire a code by leaving it here with "(retired)".
# ARC0xx reading YAML, ARC1xx schema and structure, ARC2xx shapes and dtypes,
# ARC3xx design practice, ARC4xx performance, ARC5xx export, ARC6xx budgets and verification.
# The lint rules' codes (ARC3xx, ARC4xx, ARC501) are not listed here: each rule's registration
# (`archc.lint.RULES`) holds its name and summary, and `code_info` finds them there.
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
    "ARC119": ("bad-reference", "The spec's `reference:` section is malformed or does not fit the reference (a bad regex, glob, model name, config or output)."),
    "ARC201": ("shape-mismatch", "Two shapes that must agree do not."),
    "ARC202": ("dtype-mismatch", "Two dtypes that must agree do not, or an op gets a dtype it cannot take."),
    "ARC203": ("constraint-violated", "A symbol's size violates a constraint derived from the ops."),
    "ARC204": ("invalid-attribute", "An op attribute is inconsistent with its input (groups, heads, kernel)."),
    "ARC205": ("rank-mismatch", "An op receives a tensor of the wrong rank."),
    "ARC206": ("non-positive-size", "A dimension would be zero or negative."),
    "ARC207": ("constraint-derived", "A constraint the ops impose on a symbol (information)."),
    "ARC208": ("symbolic-shape-query", "A shape query (`channels`, `features`, `dim`) asks for a size that depends on a symbol, where one fixed value is needed."),
    "ARC209": ("size-overflow", "A size, an op attribute or a tensor's storage in bytes is past the largest integer torch holds (2^63 - 1)."),
    "ARC601": ("param-budget", "The static parameter count exceeds the allowed budget."),
    "ARC602": ("verification-failed", "Executed shapes disagree with the inferred ones (a compiler bug)."),
    "ARC603": ("weights-mismatch", "Weights (a file or a reference's state_dict) do not map onto the spec's keys and shapes."),
    "ARC604": ("parity-failed", "The compiled spec does not reproduce its reference implementation."),
    "ARC605": ("parity-refused", "The comparison would prove nothing: the reference's output or gradient is degenerate (too small, or the same for different inputs)."),
    "ARC606": ("memory-limit", "A command would allocate more memory than --memory-limit allows (default: a fraction of the machine's memory) at a size it runs; refused before allocating."),
    "ARC607": ("verification-skipped", "A spec with more nodes than the verify stage runs by default (10,000): its shapes are inferred and checked statically, not executed on fake tensors; `archc check --verify-all` runs it."),
    "ARC610": ("budget-params", "The parameter count exceeds the budget (`budget.max_params` or --max-params)."),
    "ARC611": ("budget-flops", "The FLOPs of one forward pass exceed the budget (`budget.max_flops` or --max-flops)."),
    "ARC612": ("budget-memory", "The static memory estimate or the measured peak exceeds the budget (`budget.max_memory` or --max-memory)."),
    "ARC613": ("budget-latency", "The measured median latency exceeds the budget (`budget.max_latency_ms` or --max-latency-ms)."),
    "ARC614": ("budget-not-checked", "A budget that needs a measurement was not checked (profiling on the meta device)."),
    "ARC510": ("export-failed", "An exporter cannot export the compiled module (an op without a translation, an untraceable construct)."),
    "ARC511": ("symbol-specialised", "A symbol cannot stay dynamic in an export (the exporter specialises it, or its constraints are not expressible); it is exported static."),
    "ARC512": ("range-narrowed", "A dynamic symbol is exported for a narrower range than the spec declares, because the exporter guards the smaller sizes."),
    "ARC513": ("torchscript-traced", "torch.jit.script failed and the module was traced instead (recorded in the manifest)."),
    "ARC514": ("artifact-unverified", "The artifact's runtime cannot execute it at this dtype; it is written and marked unverified."),
    "ARC621": ("artifact-mismatch", "A reloaded artifact's outputs differ from the compiled module's; the first divergent node is named."),
    "ARC622": ("artifact-unloadable", "A written artifact cannot be loaded or run by its own runtime."),
    "ARC623": ("onnx-checker", "onnx.checker.check_model rejects the exported ONNX model."),
    "ARC624": ("verification-degenerate", "Verification is refused: an output of the module is (nearly) zero or the same for different inputs on randomized weights, so agreeing with it proves nothing."),
}


_CODE_SOURCES: list[Callable[[str], "tuple[str, str] | None"]] = []


def register_code_source(lookup: Callable[[str], "tuple[str, str] | None"]) -> None:
    """Let a package that defines codes of its own supply them: `lookup(code)` returns (name,
    summary) or None. The lint rule registry registers one, so this module imports nothing above it."""
    if lookup not in _CODE_SOURCES:
        _CODE_SOURCES.append(lookup)


def code_info(code: str) -> tuple[str, str] | None:
    """(name, summary) of a permanent code: from CODES, else from a registered source (the lint
    rules); None for a code nobody defines."""
    info = CODES.get(code)
    if info is not None:
        return info
    for lookup in _CODE_SOURCES:
        info = lookup(code)
        if info is not None:
            return info
    return None
