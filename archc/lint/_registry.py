"""The lint rule registry: one `@rule(...)` registration per rule, with its permanent code, its
kebab-case name, its default severity and its doc (why it matters, a bad and a good example).

Everything that lists rules (`archc lint --list-rules`, `--explain`, SARIF's rule table, the
registry-parametrized tests) reads `RULES`; nothing else lists rules by hand. The code table of
`archc.diagnostics` does not copy them either: this module registers `RULES` with it as a source
of codes (`archc.diagnostics.code_info("ARC301")` is the rule's name and summary).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal

from archc.diagnostics import Related, Span, register_code_source

if TYPE_CHECKING:  # pragma: no cover
    from archc.lint._context import LintContext

Severity = Literal["error", "warning", "info"]
Reads = Literal["model", "source"]  # what a rule reads: the elaborated graph, or the raw spec only
_CODE = re.compile(r"^ARC[345]\d\d$")
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Fix:
    """A safe, meaning-preserving edit that a rule offers with a finding, stated as data, never as
    text: in the body of graph node `node` (its `id: {...}` mapping, or its `seq:` item, wherever
    that is written), set `key` to `value`, or remove `key` (`remove=True`). `archc lint --fix`
    (archc.lint_driver.fix) finds that mapping in the spec's YAML and re-emits only it.

    A rule offers a fix only when applying it leaves the model's function unchanged; the driver
    also refuses one that would overwrite a `${...}` expression, that lands outside the linted file
    (a library it imports), or that another variant of the spec would not offer too."""

    node: str
    key: str
    value: Any = None
    remove: bool = False


@dataclass(frozen=True)
class Finding:
    """What a rule's check yields; the engine turns it into a `Diagnostic` with the rule's code."""

    message: str
    span: Span | None
    hint: str | None = None
    related: tuple[Related, ...] = ()
    fix: Fix | None = None            # a safe fix, when the rule knows one (`archc lint --fix`)


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str                      # one line: what it finds
    why: str                          # why it matters
    bad: str                          # a YAML example that triggers it
    good: str                         # the same example, fixed
    check: Callable[["LintContext"], Iterable[Finding]]
    scope: Reads = "model"            # "model": needs the elaborated graph; "source": raw spec data only
    library: bool = False             # also runs on block libraries (files under lib/)
    also_reported_as: tuple[str, ...] = field(default=())  # codes an earlier stage may report instead
    fix: str | None = None            # what `archc lint --fix` does about a finding (the rule offers `Fix`es)

    @property
    def category(self) -> str:
        return {"3": "design", "4": "performance", "5": "export"}[self.code[3]]

    def doc(self) -> str:
        fix = f"\nFix: `archc lint --fix` {self.fix}.\n" if self.fix else ""
        return (f"{self.code} {self.name} ({self.severity}): {self.summary}\n\n"
                f"Why it matters: {self.why}\n\nExample:\n{_indent(self.bad)}\n\nUse instead:\n{_indent(self.good)}\n{fix}")


RULES: dict[str, Rule] = {}


def rule(code: str, name: str, severity: Severity, *, summary: str, why: str, bad: str, good: str,
         scope: Reads = "model", library: bool = False,
         also_reported_as: tuple[str, ...] = (), fix: str | None = None) -> Callable[[Callable], Callable]:
    """Register a lint rule. The decorated function takes a `LintContext` and yields `Finding`s.
    `fix` says what its safe fix does, when its findings carry one (`Finding(fix=Fix(...))`)."""
    if not _CODE.match(code):
        raise ValueError(f"lint codes are ARC3xx (design), ARC4xx (performance) or ARC5xx (export): {code!r}")
    if not _NAME.match(name):
        raise ValueError(f"rule names are kebab-case: {name!r}")

    def deco(fn: Callable) -> Callable:
        if code in RULES:
            raise ValueError(f"lint rule {code} registered twice")
        if any(r.name == name for r in RULES.values()):
            raise ValueError(f"lint rule name {name!r} registered twice")
        RULES[code] = Rule(code, name, severity, summary, why, bad.strip("\n"), good.strip("\n"), fn,
                           scope, library, also_reported_as, fix)
        return fn

    return deco


_loaded = False


def load_rules() -> dict[str, Rule]:
    """Import the built-in rule modules (`archc/lint/rules/arcNNN_*.py`, each registers its rule on
    import), once; RULES is then ordered by code."""
    global _loaded
    if not _loaded:
        _loaded = True
        import importlib
        import os

        from archc.lint import rules

        for folder in rules.__path__:
            for entry in sorted(os.listdir(folder)):
                stem, ext = os.path.splitext(entry)
                if ext == ".py" and not stem.startswith("_"):
                    importlib.import_module(f"{rules.__name__}.{stem}")
        ordered = sorted(RULES.items())
        RULES.clear()
        RULES.update(ordered)
    return RULES


def _code_info(code: str) -> tuple[str, str] | None:
    """A lint code's (name, summary), for `archc.diagnostics.code_info`."""
    if not _CODE.match(code):
        return None
    r = load_rules().get(code)
    return (r.name, r.summary) if r is not None else None


register_code_source(_code_info)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
