"""`archc lint`'s driver: collect spec files, run each through the pipeline up to the lint stage
(torch-free), then apply the configuration (`[tool.archc.lint]`), inline suppressions, per-file
ignores and de-duplication; many files run in worker processes."""
from archc.lint.stage import LintInternalError
from archc.lint_driver.config import ConfigError, LintConfig
from archc.lint_driver.engine import FileResult, LintOptions, LintRun, lint_paths, lint_text

__all__ = ["ConfigError", "FileResult", "LintConfig", "LintInternalError", "LintOptions", "LintRun", "lint_paths", "lint_text"]
