"""The text report of `archc compare`: a small table and a PASS/FAIL line."""
from __future__ import annotations

from typing import Any

MAX_KEYS = 10


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3g}"


def render_compare(con: Any, doc: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    title = f"{doc.get('spec') or doc['name']}" + (f" ({doc['variant']})" if doc.get("variant") else "") + f" vs {doc['reference']}"
    t = Table(title=escape(title), title_justify="left", show_edge=False, pad_edge=False)
    t.add_column("check")
    t.add_column("spec", justify="right")
    t.add_column("reference", justify="right")
    t.add_column("max abs diff", justify="right")
    same = doc["params"] == doc["reference_params"]
    t.add_row("parameters", f"{doc['params']:,}", f"{doc['reference_params']:,}", "equal" if same else "[red]differ[/red]")
    t.add_row("unmatched keys", str(len(doc["unmatched_spec"])), str(len(doc["unmatched_reference"])), "")
    for name, o in doc["outputs"].items():
        shape = "x".join(map(str, o["shape"]))
        rshape = "x".join(map(str, o["reference_shape"]))
        t.add_row(f"output {escape(name)}", shape, rshape, _fmt(o.get("max_abs_diff")))
    if doc.get("max_grad_diff") is not None or doc.get("worst_grad_key"):
        t.add_row("gradients", "", "", _fmt(doc.get("max_grad_diff")))
    con.print(t)
    if doc.get("worst_grad_key"):
        con.print(f"gradients: max abs diff {_fmt(doc.get('max_grad_diff'))}, scaled by their magnitude "
                  f"{_fmt(doc.get('max_grad_rel_diff'))}, largest at [bold]{escape(doc['worst_grad_key'])}[/bold]")
    for p in doc.get("problems", []):
        hint = f" ({p['hint']})" if p.get("hint") else ""
        con.print(f"[red]{p['code']}[/red] {escape(p['message'] + hint)}")
    tol = doc.get("tol")
    if doc["passed"]:
        con.print(f"[bold green]PASS[/bold green] {escape(doc['name'])} matches {escape(doc['reference'])} "
                  f"(outputs {_fmt(doc['max_abs_diff'])}, "
                  f"gradients {_fmt(doc.get('max_grad_rel_diff'))} scaled, tolerance {tol:g})")
    else:
        con.print(f"[bold red]FAIL[/bold red] {escape(doc['name'])} does not match {escape(doc['reference'])}")
