"""Tables that fit the terminal without cutting a number: numeric columns keep their full width,
names are shortened so they stay unique (or wrap), and the least useful columns are left out (and
named) when even that is too wide. `wide=True` shortens nothing and prints at the table's width."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Sequence

ELLIPSIS = "…"
MIN_NAME = 10  # a name column is never squeezed below this (it wraps instead)


def console() -> Any:
    """Tables on stdout: the terminal's width, or COLUMNS when set; when piped without COLUMNS a
    fixed generous width (140), so scripted output does not depend on where it runs."""
    from rich.console import Console

    cols = os.environ.get("COLUMNS", "")
    width = None if sys.stdout.isatty() or cols.isdigit() else 140
    return Console(highlight=False, soft_wrap=False, width=width)


@dataclass
class Col:
    header: str
    justify: str = "left"
    kind: str = "num"        # num: never cut or wrapped (numbers, op names); name: shortened uniquely or
    #                          wrapped; text: wraps at spaces
    drop: int = 0            # 0: always shown; otherwise columns go in decreasing `drop` order
    style: str | None = None


def _trim(seg: str, keep: int, style: str) -> str:
    """`seg` in `keep` characters (ellipsis included): its head, or its head and trailing digits."""
    if keep >= len(seg):
        return seg
    tail = ""
    if style == "digits":
        tail = seg[len(seg.rstrip("0123456789")):]
        if len(tail) >= keep - 1:
            tail = ""
    return seg[:max(1, keep - 1 - len(tail))] + ELLIPSIS + tail


def shorten(name: str, width: int, style: str = "head") -> str:
    """`name` in at most `width` characters. Styles: `head` and `digits` trim the longest dotted
    segments first, the last one last (`layer1.0.downsample.0` -> `layer1.0.down….0`; `digits`
    keeps a segment's trailing number, `lay…1`); `middle` cuts the middle; `tail` keeps the end."""
    if len(name) <= width:
        return name
    if style == "middle":
        head = (width - 1) // 2
        return name[:head] + ELLIPSIS + name[len(name) - (width - 1 - head):]
    if style == "tail":
        return ELLIPSIS + name[len(name) - width + 1:]
    segs = name.split(".")
    keep = [len(s) for s in segs]

    def shown() -> str:
        return ".".join(_trim(s, k, style) for s, k in zip(segs, keep))

    while len(shown()) > width:
        cands = [i for i in range(len(segs) - 1) if keep[i] > 2]
        if not cands:
            cands = [i for i in range(len(segs)) if keep[i] > 2]
        if not cands:
            break
        i = max(cands, key=lambda j: (keep[j], -j))
        keep[i] -= 1
    out = shown()
    return out if len(out) <= width else shorten(name, width, "middle")


STYLES = ("head", "digits", "middle", "tail")


def shorten_unique(names: Sequence[str], width: int) -> list[str] | None:
    """Every name shortened to `width` in the first style that keeps them apart, or None when no
    style does."""
    for style in STYLES:
        out = [shorten(n, width, style) for n in names]
        if len(set(out)) == len(set(names)):
            return out
    return None


def wrap_items(text: str, width: int) -> str:
    """`text` broken into lines of at most `width` between its `, `-separated items (a shape's
    dims stay whole); an item longer than `width` is left for the table to wrap."""
    if len(text) <= width:
        return text
    lines: list[str] = []
    cur = ""
    for item in text.split(", "):
        cand = f"{cur}, {item}" if cur else item
        if cur and len(cand) + 1 > width:  # +1: the comma that ends the line
            lines.append(cur + ",")
            cur = item
        else:
            cur = cand
    lines.append(cur)
    return "\n".join(lines)


def say(con: Any, text: str, style: str | None = None) -> None:
    """Print a summary line, wrapped only after `,` `:` `+` `=` and before `(`, so a number stays
    with its unit (`1.05 MiB`) and an expression with its operands."""
    import re

    from rich.text import Text

    width = con.width
    lines, cur = [], ""
    for tok in re.split(r"(?<=[,:+=]) | (?=\()", text):
        cand = f"{cur} {tok}" if cur else tok
        if cur and len(cand) > width:
            lines.append(cur)
            cur = tok
        else:
            cur = cand
    lines.append(cur)
    for ln in lines:
        con.print(Text(ln, style=style or ""), overflow="fold")


def _table_width(widths: Sequence[int]) -> int:
    # show_edge=False, pad_edge=False: one space of padding each side of a separator
    return sum(widths) + 3 * max(0, len(widths) - 1)


def fit_table(con: Any, cols: Sequence[Col], rows: Sequence[Sequence[str]], title: str | None = None,
              wide: bool = False) -> list[str]:
    """Print a table of `rows` under `cols` on `con`, fitted to its width. Returns the headers of
    the columns left out (empty with `wide`, or when everything fits)."""
    from rich.table import Table
    from rich.text import Text

    cols = list(cols)
    rows = [list(r) for r in rows]
    natural = [max([len(c.header)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    shown = list(range(len(cols)))
    widths = dict(enumerate(natural))
    dropped: list[str] = []
    fold: set[int] = set()
    if not wide:
        avail = con.width
        order = sorted((i for i, c in enumerate(cols) if c.drop), key=lambda i: -cols[i].drop)
        while True:
            widths = {i: natural[i] for i in shown}
            fold = set()
            names: dict[int, list[str]] = {}
            excess = _table_width([natural[i] for i in shown]) - avail
            # give the excess back from the text columns (they wrap), then the names
            squeeze = sorted((i for i in shown if cols[i].kind != "num"),
                             key=lambda i: (cols[i].kind == "name", -natural[i]))
            for i in squeeze:
                if excess <= 0:
                    break
                # a name gives up at most a quarter of itself (then a column goes instead)
                floor = max(MIN_NAME, len(cols[i].header), -(-3 * natural[i] // 4) if cols[i].kind == "name" else 0)
                take = min(max(0, natural[i] - floor), excess)
                if not take:
                    continue
                widths[i] = natural[i] - take
                excess -= take
                short = shorten_unique([r[i] for r in rows], widths[i]) if cols[i].kind == "name" else None
                if short is not None:
                    names[i] = short
                else:
                    fold.add(i)
            # a column goes rather than a number being cut, a name wrapping or text wrapping onto
            # more than about two lines
            cramped = any(cols[i].kind == "name" or 2 * widths[i] < natural[i] for i in fold)
            if (excess > 0 or cramped) and order:
                i = order.pop(0)
                shown.remove(i)
                dropped.append(cols[i].header)
                continue
            break
        for i, short in names.items():
            for r, s in zip(rows, short):
                r[i] = s
        for i in fold:
            if cols[i].kind == "text":
                for r in rows:
                    r[i] = wrap_items(r[i], widths[i])
    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for i in shown:
        c = cols[i]
        t.add_column(c.header, justify=c.justify, style=c.style, width=widths[i],  # type: ignore[arg-type]
                     no_wrap=i not in fold, overflow="fold" if i in fold else "ellipsis")
    for r in rows:
        t.add_row(*(Text(r[i]) for i in shown))
    need = _table_width([widths[i] for i in shown])
    if need > con.width:
        # --wide, or narrower than its numbers even with every column it may leave out gone: the
        # table keeps its own width (the terminal wraps its lines) rather than cutting a number.
        # Console.print caps `width` at the console's, hence the swap.
        before = con.width
        con.width = need
        try:
            con.print(t, crop=False)
        finally:
            con.width = before
    else:
        con.print(t)
    if dropped:
        con.print(f"[dim](left out to fit {con.width} columns: {', '.join(dropped)}; --wide shows every column)[/dim]")
    return dropped
