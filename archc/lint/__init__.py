"""The lint rules: design, performance and export checks over the elaborated IR and the raw spec,
one rule per file under `rules/`, and the lint stage that runs them (`archc.lint.stage`).

The driver of `archc lint` (files, configuration, suppressions, parallel runs) is `archc.lint_driver`.
Torch-free: linting imports the spec loader, the elaborator and the rules, never torch.
"""
from archc.lint._registry import RULES, Finding, Fix, Rule, load_rules, rule
from archc.lint.stage import LintInternalError, lint_stage, run_rules

from archc._callable import make_callable

__all__ = ["RULES", "Finding", "Fix", "LintInternalError", "Rule", "lint_stage", "load_rules", "rule", "run_rules"]
make_callable(__name__)   # `archc.lint(paths)` is the API's lint command (archc/_callable.py)
