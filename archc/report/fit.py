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
    kind: str = "num"        # num: never cut or wrapped; name: shortened uniquely or wrapped; text: wraps
    drop: int = 0            # 0: always shown; otherwise columns go in decreasing `drop` order
    style: str | None = None


def shorten(name: str, width: int) -> str:
    """`name` in at most `width` characters: its longest dotted segments are trimmed first (the last
    segment last), `layer1.0.downsample.0` -> `layer1.0.down….0`; a name without room is cut in the
    middle."""
    if len(name) <= width:
        return name
    segs = name.split(".")
    keep = [len(s) for s in segs]

    def shown() -> str:
        return ".".join(s if k == len(s) else s[:k] + ELLIPSIS for s, k in zip(segs, keep))

    while len(shown()) > width:
        # display length of each segment; the last one is trimmed only when nothing else can be
        cands = [i for i in range(len(segs) - 1) if keep[i] > 2]
        if not cands:
            cands = [i for i in range(len(segs)) if keep[i] > 2]
        if not cands:
            break
        i = max(cands, key=lambda j: (keep[j], -j))
        keep[i] -= 1 if keep[i] < len(segs[i]) else 2  # the first trim pays for the ellipsis
    out = shown()
    if len(out) > width:
        head = (width - 1) // 2
        out = name[:head] + ELLIPSIS + name[len(name) - (width - 1 - head):]
    return out


def shorten_unique(names: Sequence[str], width: int) -> list[str] | None:
    """Every name shortened to `width`, or None when two would read the same."""
    out = [shorten(n, width) for n in names]
    if len(set(out)) < len(set(names)):
        return None
    return out


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
            for i in shown:  # give the excess back from the name and text columns, in column order
                if excess <= 0 or cols[i].kind == "num":
                    continue
                take = min(max(0, natural[i] - max(MIN_NAME, len(cols[i].header))), excess)
                if not take:
                    continue
                widths[i] = natural[i] - take
                excess -= take
                short = shorten_unique([r[i] for r in rows], widths[i]) if cols[i].kind == "name" else None
                if short is not None:
                    names[i] = short
                else:
                    fold.add(i)
            # a column goes rather than a number being cut or a name wrapping; text may wrap
            if (excess > 0 or any(cols[i].kind == "name" for i in fold)) and order:
                i = order.pop(0)
                shown.remove(i)
                dropped.append(cols[i].header)
                continue
            break
        for i, short in names.items():
            for r, s in zip(rows, short):
                r[i] = s
    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for i in shown:
        c = cols[i]
        t.add_column(c.header, justify=c.justify, style=c.style, width=widths[i],  # type: ignore[arg-type]
                     no_wrap=i not in fold, overflow="fold" if i in fold else "ellipsis")
    for r in rows:
        t.add_row(*(Text(r[i]) for i in shown))
    if wide:
        con.print(t, width=max(con.width, _table_width([natural[i] for i in shown])), crop=False)
    else:
        con.print(t)
    if dropped:
        con.print(f"[dim](left out to fit {con.width} columns: {', '.join(dropped)}; --wide shows every column)[/dim]")
    return dropped
