"""`archc profile --plot FILE`: the cost breakdown by block and, with a batch or symbol sweep,
latency (or FLOPs, when nothing was measured) against size. PNG or SVG by the file's suffix;
needs matplotlib (`pip install 'archc-compiler[plot]'`).

The sweep's x axis is linear with the swept values as its ticks (a log axis with two ticks makes
linear growth look super-linear); every bar carries its value; blocks with no FLOPs are left out
(and counted in the title); a model wrapped in one block is opened to its parts, as `archc graph`
does."""
from __future__ import annotations

import os
from typing import Any

from archc.errors import MissingDependency, pip_install
from archc.profile.units import fmt_count

MIN_BARS = 6   # the breakdown opens nested blocks until it has at least this many bars
MAX_BARS = 16


def _chains(doc: dict) -> dict[str, list[str]]:
    """Each node's enclosing scopes, outermost first."""
    scopes = {b["scope"] for b in doc["blocks"]}
    out = {}
    for n in doc["nodes"]:
        parts = n["id"].split(".")
        out[n["id"]] = [p for p in (".".join(parts[:k]) for k in range(1, len(parts))) if p in scopes]
    return out


def _group(doc: dict, depth: int) -> dict[str, float]:
    """FLOPs per bar when scopes down to `depth` levels are open: each node counts for its
    outermost closed scope, or for itself."""
    chains = _chains(doc)
    rows: dict[str, float] = {}
    for n in doc["nodes"]:
        chain = chains[n["id"]]
        key = chain[depth] if len(chain) > depth else n["id"]
        rows[key] = rows.get(key, 0.0) + n["flops"]
    return rows


def breakdown(doc: dict) -> tuple[list[tuple[str, float]], int]:
    """(bars: (label, FLOPs) largest first, without zeros; how many zero-FLOP bars were left out).
    Scopes are opened level by level until at least MIN_BARS bars have FLOPs."""
    deepest = max((len(c) for c in _chains(doc).values()), default=0)
    rows = _group(doc, 0)
    for depth in range(deepest + 1):
        rows = _group(doc, depth)
        if sum(1 for v in rows.values() if v > 0) >= MIN_BARS:
            break
    zeros = sum(1 for v in rows.values() if v <= 0)
    items = sorted(((k, v) for k, v in rows.items() if v > 0), key=lambda kv: -kv[1])
    if len(items) > MAX_BARS:
        rest = items[MAX_BARS - 1:]
        items = items[:MAX_BARS - 1] + [(f"({len(rest)} others)", sum(v for _, v in rest))]
    return items, zeros


def _sizes(doc: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in doc["symbols"].items())


def figure(doc: dict) -> Any:
    """The matplotlib Figure `write_plot` saves (tests read its axes)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependency(f"--plot needs matplotlib: {pip_install('plot')}") from None
    series = []
    if doc.get("throughput"):
        series.append(("batch size", [(r["batch_size"], r) for r in doc["throughput"]]))
    if doc.get("sweep"):
        series.append((doc["sweep"]["symbol"], [(r["value"], r) for r in doc["sweep"]["rows"]]))
    fig, axes = plt.subplots(1, 1 + len(series), figsize=(6.5 + 4.5 * len(series), 4.8), squeeze=False)
    ax = axes[0][0]
    items, zeros = breakdown(doc)
    names = [k for k, _ in items][::-1]
    vals = [v / 1e9 for _, v in items][::-1]
    bars = ax.barh(names, vals, color="#4477aa")
    ax.bar_label(bars, labels=[fmt_count(v * 1e9) for v in vals], padding=3, fontsize=7)
    ax.set_xlim(0, max(vals, default=1) * 1.18 or 1)
    ax.set_xlabel("GFLOPs (dense)")
    left = f"; {zeros} without FLOPs not shown" if zeros else ""
    ax.set_title(f"{doc['name']}: FLOPs by block at {_sizes(doc) or 'static sizes'}{left}", fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    for i, (label, rows) in enumerate(series, 1):
        ax = axes[0][i]
        xs = [x for x, _ in rows]
        lat = [r["latency_ms"]["median"] if r.get("latency_ms") else None for _, r in rows]
        if all(v is not None for v in lat):
            iqr = [r["latency_ms"]["iqr"] / 2 for _, r in rows]
            ax.errorbar(xs, lat, yerr=iqr, marker="o", capsize=3)
            ys, unit = lat, "ms"
            ax.set_ylabel(f"median latency, ms ({doc['device']})")
            what = "latency"
        else:
            ys = [r["flops"] / 1e9 for _, r in rows]
            unit = "GFLOPs"
            ax.plot(xs, ys, marker="o")
            ax.set_ylabel("GFLOPs (dense)")
            what = "FLOPs"
        for x, y in zip(xs, ys):
            ax.annotate(f"{y:.3g} {unit}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
        if label == "batch size":
            swept = [(doc.get("batch") or {}).get("symbol")]
        else:
            swept = doc["sweep"].get("symbols") or [doc["sweep"]["symbol"]]
        fixed = ", ".join(f"{k}={v}" for k, v in doc["symbols"].items() if k not in swept)
        ax.set_title(f"{what} against {label}" + (f" at {fixed}" if fixed else ""), fontsize=10)
        ax.set_xlabel(label)
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_ylim(bottom=0, top=max(ys, default=1) * 1.15 or 1)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def write_plot(doc: dict, path: str) -> int:
    """Write the chart to `path` (.png or .svg); returns the bytes written."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".png", ".svg"):
        raise ValueError(f"--plot {path}: the file must end in .png or .svg")
    fig = figure(doc)
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path)
    finally:
        plt.close(fig)
    return os.path.getsize(path)
