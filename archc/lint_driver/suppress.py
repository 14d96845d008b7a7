"""Inline suppression in a spec: `# archc: ignore[ARC301]` on the line of a node's id, or alone on
the line before it. Several codes (or prefixes) are separated by commas; a reason may follow
` -- `. A bare `# archc: ignore` suppresses every lint rule on that line (prefer naming codes)."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from archc.lint_driver.config import matches

_COMMENT = re.compile(r"(?:^|\s)#\s*archc:\s*ignore(?:\[([^\]]*)\])?(?:\s*--\s*(.*))?", re.I)


@dataclass(frozen=True)
class Suppression:
    line: int
    codes: tuple[str, ...] | None       # None: every lint code
    reason: str | None
    own_line: bool                      # the comment is alone on its line (it applies to the next line)

    def covers(self, code: str) -> bool:
        return self.codes is None or any(matches(code, c) for c in self.codes)


@functools.lru_cache(maxsize=256)
def suppressions(text: str) -> dict[int, Suppression]:
    out: dict[int, Suppression] = {}
    if "archc:" not in text:
        return out
    for i, line in enumerate(text.splitlines(), 1):
        if "archc" not in line:
            continue
        m = _COMMENT.search(line)
        if m is None:
            continue
        codes = None
        if m.group(1) is not None:
            codes = tuple(c.strip().upper() for c in m.group(1).split(",") if c.strip())
        reason = (m.group(2) or "").strip() or None
        out[i] = Suppression(i, codes, reason, line[: m.start()].strip() == "")
    return out


def is_suppressed(code: str, line: int, text: str | None) -> bool:
    if text is None:
        return False
    sup = suppressions(text)
    here = sup.get(line)
    if here is not None and here.covers(code):
        return True
    above = sup.get(line - 1)
    return above is not None and above.own_line and above.covers(code)
