"""`archc profile --plot FILE`: the cost breakdown by block and, with a batch or symbol sweep,
latency (or FLOPs, when nothing was measured) against size. PNG or SVG by the file's suffix;
needs matplotlib (`pip install 'archc-compiler[plot]'`)."""
from __future__ import annotations

import os
from archc.errors import MissingDependency, pip_install


def _breakdown(doc: dict) -> list[tuple[str, float]]:
    """FLOPs by top-level block; nodes outside any block grouped by themselves."""
    rows: dict[str, float] = {}
    tops = {b["scope"] for b in doc["blocks"] if b["depth"] == 1}
    for n in doc["nodes"]:
        head = n["id"].split(".")[0]
        key = head if head in tops else n["id"]
        rows[key] = rows.get(key, 0.0) + n["flops"]
    items = sorted(rows.items(), key=lambda kv: -kv[1])
    if len(items) > 16:
        rest = sum(v for _, v in items[15:])
        items = items[:15] + [("(other)", rest)]
    return items


def write_plot(doc: dict, path: str) -> None:
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".png", ".svg"):
        raise ValueError(f"--plot {path}: the file must end in .png or .svg")
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
    fig, axes = plt.subplots(1, 1 + len(series), figsize=(6 + 4.5 * len(series), 4.8), squeeze=False)
    ax = axes[0][0]
    items = _breakdown(doc)
    names = [k for k, _ in items][::-1]
    vals = [v / 1e9 for _, v in items][::-1]
    ax.barh(names, vals, color="#4477aa")
    ax.set_xlabel("GFLOPs (dense)")
    ax.set_title(f"{doc['name']}: FLOPs by block")
    ax.tick_params(axis="y", labelsize=8)
    for i, (label, rows) in enumerate(series, 1):
        ax = axes[0][i]
        xs = [x for x, _ in rows]
        lat = [r["latency_ms"]["median"] if r.get("latency_ms") else None for _, r in rows]
        if all(v is not None for v in lat):
            iqr = [r["latency_ms"]["iqr"] / 2 for _, r in rows]
            ax.errorbar(xs, lat, yerr=iqr, marker="o", capsize=3)
            ax.set_ylabel(f"median latency, ms ({doc['device']})")
            ax.set_title(f"latency against {label}")
        else:
            ax.plot(xs, [r["flops"] / 1e9 for _, r in rows], marker="o")
            ax.set_ylabel("GFLOPs (dense)")
            ax.set_title(f"FLOPs against {label}")
        ax.set_xlabel(label)
        ax.set_xscale("log", base=2)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
