"""`archc lint`: design, performance and export rules over the elaborated IR and the raw spec.

Torch-free: linting imports the spec loader, the elaborator and the rules, never torch.
"""
from archc.lint._config import ConfigError, LintConfig
from archc.lint._registry import RULES, Finding, Rule, load_rules, rule
from archc.lint.engine import FileResult, LintInternalError, LintOptions, LintRun, lint_paths, lint_text

__all__ = ["RULES", "ConfigError", "FileResult", "Finding", "LintConfig", "LintInternalError", "LintOptions",
           "LintRun", "Rule", "lint_paths", "lint_text", "load_rules", "rule"]
