"""The lint stage: every enabled rule's findings on one elaborated spec.

`archc.pipeline.run(spec, until="lint")` runs it with each rule's default severity; the `archc lint`
driver (`archc.lint_driver`) runs it per file with the configuration, suppressions and ignores.
"""
from __future__ import annotations

from typing import Any, Callable

from archc.diagnostics import Diagnostic
from archc.ir.gc_pause import paused
from archc.lint._context import LintContext
from archc.lint._registry import RULES, Rule, load_rules


class LintInternalError(Exception):
    """A bug (in a rule or the front end) while linting `file`: exit code 4."""

    def __init__(self, file: str, exc: BaseException):
        self.file, self.exc = file, exc
        super().__init__(f"while linting {file}: {type(exc).__name__}: {exc}")



def run_rules(ctx: LintContext, enabled: "Callable[[Rule], bool]", fixes: dict | None = None) -> list[Diagnostic]:
    """The lint stage's work: every enabled rule's findings on one file, as diagnostics. With
    `fixes`, the fix each finding offers is recorded there under (code, span), as dedupe keeps them."""
    with paused():
        return _run_rules(ctx, enabled, fixes)


def _run_rules(ctx: LintContext, enabled: "Callable[[Rule], bool]", fixes: dict | None) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for rule in RULES.values():
        if not enabled(rule):
            continue
        try:
            for f in rule.check(ctx):
                out.append(Diagnostic(rule.code, f.message, f.span, rule.severity, f.hint, tuple(f.related)))
                if fixes is not None and f.fix is not None:
                    fixes[(rule.code, f.span)] = f.fix
        except Exception as e:
            raise LintInternalError(ctx.file, RuntimeError(f"rule {rule.code} {rule.name}: {type(e).__name__}: {e}")) from e
    return out


def lint_stage(unit: Any) -> list[Diagnostic]:
    """The pipeline's lint stage (`archc.pipeline.run(spec, until="lint")`): every rule with its
    default severity on the unit's elaborated graph; the findings are also reported into its session."""
    load_rules()
    ctx = LintContext(unit.spec.main.file, unit.spec, unit.graph)
    found = run_rules(ctx, lambda rule: rule.scope == "source" or ctx.graph is not None)
    unit.session.report(found)
    return found
