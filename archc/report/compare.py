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
    t.add_column("magnitude", justify="right")
    t.add_column("relative", justify="right")
    same = doc["params"] == doc["reference_params"]
    t.add_row("parameters", f"{doc['params']:,}", f"{doc['reference_params']:,}", "equal" if same else "[red]differ[/red]", "", "")
    t.add_row("unmatched keys", str(len(doc["unmatched_spec"])), str(len(doc["unmatched_reference"])), "", "", "")
    left_out = []
    for kind, what in (("unused", "declared unused: not counted, no gradient"), ("frozen", "frozen: no gradient compared")):
        keys = doc.get(f"{kind}_reference") or []
        if keys:
            shown = ", ".join(keys[:MAX_KEYS]) + (f" and {len(keys) - MAX_KEYS} more" if len(keys) > MAX_KEYS else "")
            left_out.append(f"reference parameters {what}: {len(keys)} ({doc.get(f'{kind}_reference_params', 0):,} "
                            f"values): {shown}")
    for name, o in doc["outputs"].items():
        shape = "x".join(map(str, o["shape"]))
        rshape = "x".join(map(str, o["reference_shape"]))
        t.add_row(f"output {escape(name)}", shape, rshape, _fmt(o.get("max_abs_diff")),
                  _fmt(o.get("reference_max_abs")), _fmt(o.get("rel_diff")))
    if doc.get("max_grad_diff") is not None or doc.get("worst_grad_key"):
        t.add_row("gradients", "", "", _fmt(doc.get("max_grad_diff")), _fmt(doc.get("reference_grad_max_abs")),
                  _fmt(doc.get("max_grad_rel_diff")))
    con.print(t)
    for line in left_out:
        con.print(escape(line))
    w = doc.get("weights") or {}
    if w:
        stats = {"measured": ", batch-norm statistics measured", "random": ", batch-norm statistics random"}.get(
            w.get("statistics"), "")
        seeds = doc.get("seeds") or [doc.get("seed")]
        con.print(f"weights: randomized (seed {w.get('seed')}{stats}); inputs at {len(seeds)} seed(s) "
                  f"{', '.join(map(str, seeds))}; {doc.get('dtype')}")
    tr = doc.get("train")
    if tr is not None:
        if tr.get("compared"):
            worst = max((o.get("rel_diff") or 0.0 for o in tr.get("outputs", {}).values()), default=0.0)
            con.print(f"train mode (dropout off): outputs {_fmt(worst)} relative, gradients "
                      f"{_fmt(tr.get('max_grad_rel_diff'))} relative")
        else:
            con.print(f"train mode not compared: {escape(tr.get('reason') or '')}")
    if doc.get("worst_grad_key") and doc.get("max_grad_rel_diff"):
        con.print(f"gradients: max abs diff {_fmt(doc.get('max_grad_diff'))}, scaled by their magnitude "
                  f"{_fmt(doc.get('max_grad_rel_diff'))}, largest at [bold]{escape(doc['worst_grad_key'])}[/bold]")
    for p in doc.get("problems", []):
        hint = f" ({p['hint']})" if p.get("hint") else ""
        con.print(f"[red]{p['code']}[/red] {escape(p['message'] + hint)}")
    if doc["passed"]:
        con.print(f"[bold green]PASS[/bold green] {escape(doc['name'])} matches {escape(doc['reference'])} "
                  f"(outputs {_fmt(doc.get('max_rel_diff'))}, gradients {_fmt(doc.get('max_grad_rel_diff'))} "
                  f"of their magnitude; rtol {doc.get('rtol'):g})")
    elif doc.get("refused"):
        con.print(f"[bold red]REFUSED[/bold red] {escape(doc['name'])} vs {escape(doc['reference'])}: the reference's "
                  "output or gradient is degenerate, so a match would prove nothing")
    else:
        con.print(f"[bold red]FAIL[/bold red] {escape(doc['name'])} does not match {escape(doc['reference'])}")
