"""The text report of `archc build`: the format matrix and a result line."""
from __future__ import annotations

from typing import Any


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def matrix_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = []
    for fmt, a in doc.get("artifacts", {}).items():
        status = a.get("status", "?")
        if a.get("status_tag"):              # a format's own remark (torchscript: "traced")
            status += f" ({a['status_tag']})"
        if a.get("bitwise_equal"):
            status += " (bitwise)"
        rows.append([fmt, status, _num(a.get("max_abs_diff"), ".2e"), _num(a.get("rel_diff"), ".2e"), _size(a.get("size_bytes")),
                     _num(a.get("export_seconds"), ".2f"), _num(a.get("latency_ms"), ".2f")])
    return rows


def render_build(con: Any, doc: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    spec = doc["spec"]
    title = f"{spec['path']}: {spec['name']}" + (f" ({spec['variant']})" if spec.get("variant") else "")
    t = Table(title=escape(title), title_justify="left", show_edge=False, pad_edge=False)
    for col, just in (("format", "left"), ("status", "left"), ("max abs diff", "right"), ("rel diff", "right"), ("size", "right"),
                      ("export s", "right"), ("latency ms", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in matrix_rows(doc):
        style = "" if r[1].startswith("verified") else ("yellow" if r[1].startswith("unverified") else "red")
        t.add_row(*[escape(c) for c in r], style=style)
    con.print(t)
    syms = ", ".join(f"{n} {'dynamic ' + _range(s) if s['dynamic'] else 'static = ' + str(s['export_size'])}"
                     for n, s in doc.get("symbols", {}).items())
    sizes = "; ".join(", ".join(f"{k}={v}" for k, v in e.items()) for e in doc.get("verification_sizes", []))
    tol = doc.get("tolerance", {})
    con.print(f"symbols: {escape(syms) or 'none'}")
    vw = doc.get("verification_weights") or {}
    weights = f"{vw['weights']} weights (seed {vw.get('seed')})" if vw else "the spec's weights"
    con.print(f"verified at: {escape(sizes) or 'the static size'} on {weights} ({doc['dtype']}, "
              f"|a - b| <= atol {tol.get('atol')} + rtol {tol.get('rtol')} * max|eager|; rel diff = max abs diff / max|eager|); "
              f"latency: median of the loaded artifact at the first size")
    if doc.get("ok"):
        con.print(f"wrote {len(doc['artifacts'])} artifact(s) and manifest.json to {escape(doc.get('output_dir', ''))}")
    else:
        con.print(f"[red]build failed[/red]: nothing was written to {escape(doc.get('output_dir', ''))}")


def _range(s: dict[str, Any]) -> str:
    lo, hi = s["range"]
    step = f", step {s['step']}" if s.get("step", 1) > 1 else ""
    return f"[{lo}, {'inf' if hi is None else hi}{step}]"
