"""`archc lint --fix [--diff]`: the safe fixes that rules offer (`archc.lint.Fix`), made in the files.

A rule states its fix as data (a graph node, a key, a new value or the key's removal). Here each one
is located in the spec: the node's body is written where the node's span points. A fix is kept
only when it is safe to make there:

- it edits the linted file itself, never a library the spec imports (nor the base an `extends:`
  spec builds on): those are fixed when they are the file being linted;
- it does not overwrite a `${...}` expression (its value may differ with `--set` or a variant);
- every variant the spec declares offers it too, or does not build that node at all (a variant
  that drops the batch norm after a conv needs that conv's bias).

The edits are then made by `archc.lint_driver.splice` (only the edited node is re-emitted) and
written atomically, or shown as a unified diff (`--diff`, which writes nothing).
"""
from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from archc.diagnostics import Diagnostic


@dataclass(frozen=True)
class Edit:
    """One fix, located: in `file` (its display path), the node body whose id starts at
    `line`:`col` gets `key: value`, or loses `key`."""

    file: str
    line: int
    col: int
    key: str
    value: Any = None
    remove: bool = False


@dataclass
class FixOutcome:
    fixed: int = 0                                   # findings fixed
    files: list[str] = field(default_factory=list)   # files changed (display paths), in order
    texts: dict[str, str] = field(default_factory=dict)   # file -> its fixed text
    diff: str = ""                                   # unified diff of every change
    refused: list[tuple[str, str]] = field(default_factory=list)   # (where, why) of fixes not made

    def summary(self, dry_run: bool) -> str:
        n, m = self.fixed, len(self.files)
        verb = "would fix" if dry_run else "fixed"
        return f"{verb} {n} finding{'s' if n != 1 else ''} in {m} file{'s' if m != 1 else ''}"


def locate(ctx: Any, fix: Any) -> Edit | None:
    """The edit a rule's fix asks for, or None when its node has no span."""
    node = ctx.nodes.get(fix.node)
    span = node.span if node is not None else None
    if span is None:
        return None
    return Edit(span.file, span.line, span.col, fix.key, fix.value, fix.remove)


def offered(ctx: Any, fixes: dict, shown: str) -> dict[tuple, Edit]:
    """(code, span) of a finding -> the edit its fix makes, for the fixes inside file `shown`."""
    out: dict[tuple, Edit] = {}
    for key, fix in fixes.items():
        e = locate(ctx, fix)
        if e is not None and e.file == shown:
            out[key] = e
    return out


def plan(kept: list[Diagnostic], edits: dict[tuple, Edit],
         variants: list[tuple[set, set]] | None) -> list[tuple[Diagnostic, Edit]]:
    """The kept findings (after configuration and suppressions) with a fix, and its edit; with
    `variants` (for each declared variant: the spans of the nodes it builds, and the edits it
    offers), only the edits every variant agrees with."""
    out = []
    for d in kept:
        e = edits.get((d.code, d.span))
        if e is None:
            continue
        if variants is not None and not all(e in offers or (e.file, e.line, e.col) not in built
                                            for built, offers in variants):
            continue
        out.append((d, e))
    return out


def apply_fixes(results: list[Any], sources: dict[str, str], write: bool) -> FixOutcome:
    """Make the planned edits of every file result: written atomically (`write`), or only
    diffed. Files are read again and their text compared with what was linted: a file that
    changed since is left alone."""
    from archc.lint_driver.splice import SpliceError, Target, apply

    outcome = FixOutcome()
    by_file: dict[str, list[tuple[Diagnostic, Edit]]] = {}
    for r in results:
        for d, e in getattr(r, "fixes", ()):
            by_file.setdefault(e.file, []).append((d, e))
    for file, items in by_file.items():
        old = sources.get(file)
        try:
            with open(file, encoding="utf-8", newline="") as f:
                on_disk = f.read()
        except OSError as ex:
            outcome.refused.append((file, f"cannot read it: {ex.strerror}"))
            continue
        if old is None or on_disk != old:
            outcome.refused.append((file, "it changed while it was linted"))
            continue
        text, fixed, done = old, 0, set()
        for d, e in items:
            if e in done:       # the same edit for another finding (a block used twice)
                fixed += 1
                continue
            try:
                text, _ = apply(text, Target(e.line, e.col), e.key, e.value, e.remove)
            except SpliceError as ex:
                outcome.refused.append((f"{d.span} {d.code}" if d.span is not None else file, str(ex)))
                continue
            done.add(e)
            fixed += 1
        if text == old:
            outcome.fixed += fixed
            continue
        outcome.fixed += fixed
        outcome.files.append(file)
        outcome.texts[file] = text
        outcome.diff += "".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                     f"a/{file}", f"b/{file}"))
        if write:
            write_atomic(file, text)
    return outcome


def write_atomic(path: str, text: str) -> None:
    """Replace `path` with `text` through a temporary file in its folder and `os.replace`, keeping
    its permissions: a reader (or a crash) never sees half a spec."""
    folder = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=".archc-fix-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
