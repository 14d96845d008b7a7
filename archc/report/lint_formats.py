"""`archc lint --format`: text, json, github (workflow annotations), sarif (2.1.0) and junit.

Plain string building with the standard library only (no rich, no torch), so the linter starts fast.
Every renderer takes the run (its per-file results and source texts) and the rule registry.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from archc.diagnostics import Diagnostic, Span, code_info
from archc.report.text import render_diagnostics, summary_line

FORMATS = ("text", "json", "github", "sarif", "junit")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_URI = "https://github.com/archc/archc"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}
_FINGERPRINT = "archcFingerprint/v1"


def render(fmt: str, run: Any, rules: Mapping[str, Any], color: bool = False) -> str:
    return {"text": render_text, "json": render_json, "github": render_github, "sarif": render_sarif,
            "junit": render_junit}[fmt](run, rules, color=color)


def _name(code: str, rules: Mapping[str, Any]) -> str:
    r = rules.get(code)
    return r.name if r is not None else (code_info(code) or ("", ""))[0]


# ---------------------------------------------------------------------------------------- text
def render_text(run: Any, rules: Mapping[str, Any], color: bool = False) -> str:
    diags = run.diagnostics
    files = len(run.results)
    suppressed = sum(r.suppressed for r in run.results)
    tail = f"{files} file{'s' if files != 1 else ''} linted"
    if suppressed:
        tail += f", {suppressed} finding{'s' if suppressed != 1 else ''} suppressed inline"
    if not diags:
        return f"{summary_line(diags)}; {tail}\n"
    return render_diagnostics(diags, run.sources, color=color) + f"; {tail}\n"


# ---------------------------------------------------------------------------------------- json
def render_json(run: Any, rules: Mapping[str, Any], color: bool = False) -> str:
    diags = run.diagnostics
    doc = {
        "archc_lint": 1,
        "files": [{"file": r.file, "kind": r.kind, "suppressed": r.suppressed,
                   "diagnostics": [_json_diag(d, rules) for d in r.diagnostics]} for r in run.results],
        "summary": {
            "files": len(run.results),
            "errors": sum(d.severity == "error" for d in diags),
            "warnings": sum(d.severity == "warning" for d in diags),
            "info": sum(d.severity == "info" for d in diags),
            "suppressed": sum(r.suppressed for r in run.results),
            "fail_on": run.fail_on,
            "failed": run.failed,
        },
        "internal_errors": [{"file": f, "message": m} for f, m in run.internal_errors],
    }
    return json.dumps(doc, indent=2) + "\n"


def _json_diag(d: Diagnostic, rules: Mapping[str, Any]) -> dict:
    j = d.to_json()
    j["name"] = _name(d.code, rules)
    return j


# ---------------------------------------------------------------------------------------- github
def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


def render_github(run: Any, rules: Mapping[str, Any], color: bool = False) -> str:
    """GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=ARC301 name::message`."""
    lines = []
    for d in run.diagnostics:
        props = []
        if d.span is not None:
            props.append(f"file={_gh_prop(Path(d.span.file).as_posix())}")
            props += [f"line={d.span.line}", f"col={d.span.col}"]
            if d.span.end_line is not None and d.span.end_line == d.span.line and d.span.end_col:
                props += [f"endLine={d.span.end_line}", f"endColumn={d.span.end_col}"]
        props.append(f"title={_gh_prop(f'{d.code} {_name(d.code, rules)}'.strip())}")
        msg = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        lines.append(f"::{_GITHUB_LEVEL.get(d.severity, 'error')} {','.join(props)}::{_gh_data(msg)}")
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------------------------- sarif
def _artifact(file: str, base: Path) -> dict:
    p = Path(file)
    absolute = (p if p.is_absolute() else (Path.cwd() / p)).resolve()
    try:
        rel = absolute.relative_to(base)
    except ValueError:
        return {"uri": absolute.as_uri()}
    return {"uri": rel.as_posix(), "uriBaseId": "SRCROOT"}


def _region(s: Span) -> dict:
    r = {"startLine": max(1, s.line), "startColumn": max(1, s.col)}
    if s.end_line is not None and s.end_col is not None and (s.end_line, s.end_col) > (s.line, s.col):
        r["endLine"] = s.end_line
        r["endColumn"] = s.end_col
    return r


def _location(s: Span, base: Path, message: str | None = None) -> dict:
    loc: dict = {"physicalLocation": {"artifactLocation": _artifact(s.file, base), "region": _region(s)}}
    if message:
        loc["message"] = {"text": message}
    return loc


def _sarif_rule(code: str, rules: Mapping[str, Any]) -> dict:
    r = rules.get(code)
    if r is not None:
        text = r.doc()
        md = (f"**{r.code} {r.name}** ({r.severity}): {r.summary}\n\n**Why it matters:** {r.why}\n\n"
              f"**Example**\n\n```yaml\n{r.bad}\n```\n\n**Use instead**\n\n```yaml\n{r.good}\n```\n")
        return {"id": code, "name": r.name, "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.why}, "help": {"text": text, "markdown": md},
                "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
                "properties": {"tags": ["archc", r.category]}}
    name, desc = code_info(code) or ("unknown", "A diagnostic of the archc front end.")
    return {"id": code, "name": name, "shortDescription": {"text": desc}, "fullDescription": {"text": desc},
            "defaultConfiguration": {"level": "error"}, "properties": {"tags": ["archc", "spec"]}}


def _line_text(s: Span, sources: Mapping[str, str]) -> str:
    text = sources.get(s.file)
    if text is None:
        return ""
    lines = text.splitlines()
    return lines[s.line - 1].strip() if 1 <= s.line <= len(lines) else ""


def render_sarif(run: Any, rules: Mapping[str, Any], color: bool = False) -> str:
    """SARIF 2.1.0: one run, every lint rule (and each front-end code seen) in the driver's rule table;
    paths relative to the working directory under `uriBaseId` SRCROOT; a line-independent
    partial fingerprint (code, file, the source line's text, occurrence) that survives edits elsewhere."""
    base = Path.cwd().resolve()
    diags = run.diagnostics
    codes = list(rules) + sorted({d.code for d in diags} - set(rules))
    index = {c: i for i, c in enumerate(codes)}
    seen: dict[str, int] = {}
    results = []
    for d in diags:
        res: dict = {"ruleId": d.code, "ruleIndex": index[d.code], "level": _SARIF_LEVEL.get(d.severity, "error"),
                     "message": {"text": d.message + (f" (hint: {d.hint})" if d.hint else "")}}
        if d.span is not None:
            res["locations"] = [_location(d.span, base)]
            key = f"{d.code}:{_artifact(d.span.file, base)['uri']}:{_line_text(d.span, run.sources)}"
        else:
            key = f"{d.code}::{d.message}"
        n = seen.get(key, 0)
        seen[key] = n + 1
        res["partialFingerprints"] = {_FINGERPRINT: hashlib.sha256(f"{key}:{n}".encode()).hexdigest()[:32]}
        related = [_location(r.span, base, r.message) for r in d.related if r.span is not None]
        if related:
            for i, loc in enumerate(related):
                loc["id"] = i
            res["relatedLocations"] = related
        results.append(res)
    from archc import __version__

    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "archc", "semanticVersion": __version__, "version": __version__,
                                "informationUri": TOOL_URI, "rules": [_sarif_rule(c, rules) for c in codes]}},
            "originalUriBaseIds": {"SRCROOT": {"uri": base.as_uri() + "/"}},
            "columnKind": "unicodeCodePoints",
            "invocations": [{
                "executionSuccessful": not run.internal_errors,
                "toolExecutionNotifications": [
                    {"level": "error", "message": {"text": f"internal error while linting {f}: {m}"},
                     "locations": [{"physicalLocation": {"artifactLocation": _artifact(f, base)}}]}
                    for f, m in run.internal_errors],
            }],
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"


# ---------------------------------------------------------------------------------------- junit
def render_junit(run: Any, rules: Mapping[str, Any], color: bool = False) -> str:
    """JUnit XML: one testcase per linted file; one <failure> per finding at or above `--fail-on`,
    the other findings in the testcase's <system-out>."""
    from xml.etree import ElementTree as ET

    from archc.lint_driver.config import SEVERITY_RANK

    bar = SEVERITY_RANK[run.fail_on]
    suites = ET.Element("testsuites", name="archc lint")
    suite = ET.SubElement(suites, "testsuite", name="archc lint")
    for r in run.results:
        case = ET.SubElement(suite, "testcase", classname="archc.lint", name=r.file, file=r.file)
        notes = []
        for d in r.diagnostics:
            where = str(d.span) if d.span is not None else r.file
            text = f"{where}: {d.severity}[{d.code}] {d.message}" + (f"\nhint: {d.hint}" if d.hint else "")
            if SEVERITY_RANK.get(d.severity, 2) >= bar:
                f = ET.SubElement(case, "failure", type=f"{d.code} {_name(d.code, rules)}".strip(),
                                  message=f"{where}: {d.code} {d.message}")
                f.text = text
            else:
                notes.append(text)
        if notes:
            ET.SubElement(case, "system-out").text = "\n".join(notes)
    for file, message in run.internal_errors:
        case = ET.SubElement(suite, "testcase", classname="archc.lint", name=file, file=file)
        ET.SubElement(case, "error", type="internal-error", message=message).text = message
    n_cases = len(run.results) + len(run.internal_errors)
    failed_cases = sum(1 for c in suite if c.find("failure") is not None)
    for el in (suites, suite):
        el.set("tests", str(n_cases))
        el.set("failures", str(failed_cases))
        el.set("errors", str(len(run.internal_errors)))
    suite.set("skipped", "0")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

