"""Mutation testing of the proof: semantic mutants of a zoo spec, run through `compare`.

Torch-free enumeration on the spec's YAML data (the spec file, the spec it `extends:` and the block
libraries they `imports:`). Each mutant is one edit of one file: a class, a description naming the
file, the node (or block) and the attribute, and the edited file's data. `materialize` writes a
complete spec tree (a copy of the spec folder with the one file replaced) so relative imports resolve;
`run_mutant` compares it with the reference (torch needed only there).
"""
from __future__ import annotations

import copy
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

CLASSES = ("activation", "eps", "stride", "padding", "dilation", "kernel", "scale", "causal",
           "residual", "tie", "reorder")

ACTIVATION_SWAPS: dict[str, list[dict[str, Any]]] = {
    "relu": [{"op": "gelu"}, {"op": "silu"}],
    "gelu": [{"op": "relu"}, {"op": "silu"}],
    "silu": [{"op": "relu"}, {"op": "gelu"}],
    "tanh": [{"op": "sigmoid"}],
    "sigmoid": [{"op": "tanh"}],
    "hardswish": [{"op": "silu"}],
    "mish": [{"op": "silu"}],
    "leaky_relu": [{"op": "relu"}],
}
ACT_ATTRS = ("approximate", "negative_slope")
NORMS = {"batch_norm", "layer_norm", "rms_norm", "group_norm", "instance_norm"}
CONVS = {"conv1d", "conv2d", "conv3d"}
POOLS = {"max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d"}
ATTENTION = {"attention", "sdpa"}
ELEMENTWISE = set(ACTIVATION_SWAPS) | NORMS   # shape-preserving ops a reorder may move


@dataclass
class Mutant:
    cls: str
    desc: str
    file: str                 # path of the edited file, relative to the spec folder
    data: Any                 # the edited file's whole YAML data
    block: str | None = None  # the block whose body the edit is in (None: the spec's own layers, ties)

    @property
    def key(self) -> str:
        return f"{self.cls}: {self.desc}"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def spec_files(spec: Path) -> list[Path]:
    """The spec file, the file it extends and every library they import, in a fixed order."""
    spec = Path(spec).resolve()
    root = spec.parent
    out: list[Path] = []

    def find(name: str, lib_first: bool) -> Path | None:
        dirs = [root / "lib", root] if lib_first else [root, root / "lib"]
        for d in dirs:
            if (d / f"{name}.yaml").is_file():
                return (d / f"{name}.yaml").resolve()
        return None

    def visit(p: Path) -> None:
        if p in out:
            return
        out.append(p)
        data = _load(p) or {}
        if isinstance(data.get("extends"), str) and (q := find(data["extends"], False)):
            visit(q)
        for name in data.get("imports") or []:
            if isinstance(name, str) and (q := find(name, True)):
                visit(q)

    visit(spec)
    return out


def _nodes(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, str, dict]]:
    """(path to the op dict, a readable label, the op dict) for every node with an `op:`."""
    if isinstance(data, dict):
        if "op" in data and isinstance(data["op"], str):
            yield path, _label(path), data
        for k, v in data.items():
            yield from _nodes(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _nodes(v, path + (i,))


def _label(path: tuple) -> str:
    parts: list[str] = []
    for p in path:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts)


def _at(data: Any, path: tuple) -> Any:
    for p in path:
        data = data[p]
    return data


def _bump(v: Any, fn_lit, expr: str) -> Any:
    """A literal through fn_lit, an `${...}` expression wrapped as `${(e) <expr>}`."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, (int, float)):
        return fn_lit(v)
    if isinstance(v, str) and v.startswith("${") and v.endswith("}"):
        return "${(" + v[2:-1] + ") " + expr + "}"
    if isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return [fn_lit(x) for x in v]
    return None


def _edits(node: dict) -> Iterator[tuple[str, str, dict]]:
    """(class, attribute description, replacement node) for one op node."""
    op = node["op"]
    if op in ACTIVATION_SWAPS:
        for new in ACTIVATION_SWAPS[op]:
            n = {k: v for k, v in node.items() if k not in ACT_ATTRS}
            n.update(new)
            yield "activation", f"op {op} -> {new['op']}", n
        if op == "gelu":
            n = dict(node)
            if n.get("approximate") == "tanh":
                n.pop("approximate")
                yield "activation", "gelu approximate tanh -> exact", n
            else:
                n["approximate"] = "tanh"
                yield "activation", "gelu exact -> approximate tanh", n
    if op in NORMS:
        n = dict(node)
        if isinstance(node.get("eps"), (int, float)):
            n["eps"] = max(node["eps"] * 100, 1e-3)
            yield "eps", f"eps {node['eps']} -> {n['eps']}", n
        elif "eps" in node:
            # an expression: to 1e-3 (x100 of a BERT-style 1e-12 stays invisible next to unit variance)
            n["eps"] = 1e-3
            yield "eps", f"eps {node['eps']} -> 0.001", n
        else:
            n["eps"] = 1e-3 if op != "batch_norm" else 1e-2
            yield "eps", f"eps default -> {n['eps']}", n
    if op in CONVS | POOLS:
        k = node.get("kernel")
        for attr in ("stride", "padding"):
            if attr in node:
                new = _bump(node[attr], (lambda s: 1 if s > 1 else 2) if attr == "stride" else (lambda p: p + 1),
                            "+ 1")
                if new is not None:
                    yield attr, f"{attr} {node[attr]} -> {new}", {**node, attr: new}
            elif attr == "padding" and op in CONVS and k not in (None, 1):
                yield attr, "padding default 0 -> 1", {**node, "padding": 1}
        if op in CONVS and k not in (None, 1):
            n = dict(node)
            n["dilation"] = 2 if "dilation" not in node else _bump(node["dilation"], lambda d: d + 1, "+ 1")
            if isinstance(node.get("padding"), int) and not isinstance(node.get("padding"), bool):
                n["padding"] = node["padding"] * 2     # keeps a 'same' 3x3 conv's output size
            yield "dilation", f"dilation {node.get('dilation', 1)} -> {n['dilation']}", n
        if k is not None:
            n = dict(node)
            n["kernel"] = _bump(k, lambda x: x + 2, "+ 2")
            if isinstance(k, int) and not isinstance(k, bool) and isinstance(node.get("padding", 0), int):
                n["padding"] = node.get("padding", 0) + 1   # keeps the output size of a stride-1 conv
            if n["kernel"] is not None:
                yield "kernel", f"kernel {k} -> {n['kernel']}", n
    for attr in ("scale", "scale_factor"):
        if attr in node and (new := _bump(node[attr], lambda s: s * 2, "* 2")) is not None:
            yield "scale", f"{attr} {node[attr]} x2", {**node, attr: new}
    if op == "sdpa" and node.get("scale") is None:
        # the default score scale is 1/sqrt(head dim): 1 is off by sqrt(head dim) >= 2 for any head dim >= 4
        yield "scale", "scale default 1/sqrt(head dim) -> 1", {**node, "scale": 1.0}
    if op in ATTENTION:
        c = node.get("causal", False)
        yield "causal", f"causal {bool(c) if isinstance(c, bool) else c} -> flipped", {**node, "causal": _bump(c, None, "== False") if not isinstance(c, bool) else not c}
    if op == "add" and isinstance(node.get("from"), list) and len(node["from"]) >= 2:
        for src in node["from"]:
            n = {"op": "identity", "from": src}
            if "when" in node:
                n["when"] = node["when"]
            yield "residual", f"add -> its input {src}", n


def _item_op(item: Any) -> tuple[str | None, dict | None]:
    """(name, op dict) of a layers/seq list item: `- name: {op: ...}` or a bare `- {op: ...}`."""
    if isinstance(item, dict) and len(item) == 1:
        (name, val), = item.items()
        if isinstance(val, dict) and "op" in val:
            return str(name), val
    if isinstance(item, dict) and "op" in item:
        return None, item
    return None, None


def _lists(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, list]]:
    if isinstance(data, dict):
        for k, v in data.items():
            if k in ("layers", "seq") and isinstance(v, list):
                yield path + (k,), v
            yield from _lists(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _lists(v, path + (i,))


def _block_of(path: tuple) -> str | None:
    return str(path[1]) if len(path) > 1 and path[0] == "blocks" else None


def enumerate_mutants(spec: Path | str) -> list[Mutant]:
    """Every mutant of SPEC, in a fixed order (file, node, class)."""
    spec = Path(spec).resolve()
    root = spec.parent
    out: list[Mutant] = []
    for f in spec_files(spec):
        rel = f.relative_to(root).as_posix()
        data = _load(f)
        for path, label, node in _nodes(data):
            for cls, what, new in _edits(node):
                d = copy.deepcopy(data)
                parent = _at(d, path[:-1]) if path else None
                if parent is None:
                    continue
                parent[path[-1]] = new
                out.append(Mutant(cls, f"{rel}: {label}: {what}", rel, d, _block_of(path)))
        for path, items in _lists(data):
            for i in range(len(items) - 1):
                (na, a), (nb, b) = _item_op(items[i]), _item_op(items[i + 1])
                if a is None or b is None or any(k in x for x in (a, b) for k in ("from", "when", "repeat")):
                    continue
                if not ({a["op"], b["op"]} & ELEMENTWISE) or {a["op"], b["op"]} & {"dropout", "identity", "drop_path"}:
                    continue
                d = copy.deepcopy(data)
                lst = _at(d, path)
                lst[i], lst[i + 1] = lst[i + 1], lst[i]
                out.append(Mutant("reorder", f"{rel}: {_label(path)}[{i}]: swap {na or a['op']} and {nb or b['op']}", rel, d,
                                  _block_of(path)))
        if isinstance(data, dict) and isinstance(data.get("ties"), list):
            for i, t in enumerate(data["ties"]):
                d = copy.deepcopy(data)
                del d["ties"][i]
                if not d["ties"]:
                    del d["ties"]
                what = f"{t.get('param')} = {t.get('to')}" if isinstance(t, dict) else str(t)
                out.append(Mutant("tie", f"{rel}: ties[{i}]: untie {what}", rel, d))
    return out


def select(mutants: list[Mutant], cap: int | None = None, sample_seed: int | None = None,
           classes: tuple[str, ...] | None = None) -> list[Mutant]:
    """At most CAP mutants per class: the first ones, or a seeded sample (deterministic) when SAMPLE_SEED."""
    by: dict[str, list[Mutant]] = {}
    for m in mutants:
        if classes is None or m.cls in classes:
            by.setdefault(m.cls, []).append(m)
    out: list[Mutant] = []
    for cls in CLASSES:
        ms = by.get(cls, [])
        if cap is not None and len(ms) > cap:
            ms = sorted(random.Random(f"{sample_seed}:{cls}").sample(ms, cap), key=mutants.index) \
                if sample_seed is not None else ms[:cap]
        out.extend(ms)
    return out


def materialize(spec: Path | str, mutant: Mutant, into: Path | str) -> Path:
    """Copy SPEC's folder into INTO with the mutant's file replaced; the mutated spec's path."""
    spec = Path(spec).resolve()
    into = Path(into)
    shutil.copytree(spec.parent, into, dirs_exist_ok=True)
    (into / mutant.file).write_text(yaml.safe_dump(mutant.data, sort_keys=False, width=1000))
    return into / spec.name


# Mutants known to leave the function unchanged, with the reason: (spec stem, description substring) -> reason.
EQUIVALENT: dict[tuple[str, str], str] = {
    ("resnet", "swap relu and maxpool"): "relu and max pooling commute (max is monotone; the pool pads with -inf)",
    ("resnet18", "swap relu and maxpool"): "relu and max pooling commute (max is monotone; the pool pads with -inf)",
    ("resnet50", "swap relu and maxpool"): "relu and max pooling commute (max is monotone; the pool pads with -inf)",
}


def used_blocks(spec: Path | str, overrides: dict[str, Any] | None = None, variant: str | None = None) -> set[str]:
    """The blocks the spec instantiates at this configuration (torch-free elaboration)."""
    import archc

    g = archc.infer(str(spec), overrides, variant)
    return {sc.name for sc in g.scopes.values() if sc.kind == "block" and sc.name}


def dead_reason(mutant: Mutant, used: set[str]) -> str | None:
    """Why a mutant cannot change the function: it edits a block that this configuration never
    instantiates (resnet50 has no `basic` block, resnet18 no `bottleneck`)."""
    if mutant.block is not None and mutant.block not in used:
        return f"edits block `{mutant.block}`, which this configuration does not instantiate (dead code)"
    return None


def equivalent_reason(spec: Path | str, mutant: Mutant) -> str | None:
    stem = Path(spec).stem
    for (s, sub), why in EQUIVALENT.items():
        if s == stem and sub in mutant.desc:
            return why
    return None


def run_mutant(spec: Path | str, mutant: Mutant, overrides: dict[str, Any] | None = None,
               variant: str | None = None, **compare_kw: Any) -> dict[str, Any]:
    """Compare the mutant with the reference. {'outcome': 'killed'|'diagnostic'|'survived'|'error', ...}"""
    from archc.errors import DiagnosticError, MissingDependency
    from archc.parity.compare import compare

    with tempfile.TemporaryDirectory(prefix="archc-mutant-") as tmp:
        path = materialize(spec, mutant, tmp)
        try:
            doc = compare(str(path), None, overrides, variant, **compare_kw)
        except DiagnosticError as e:
            codes = sorted({d.code for d in e.diagnostics})
            return {"outcome": "diagnostic", "codes": codes, "message": str(e)[:300]}
        except MissingDependency:
            raise
        except Exception as e:  # noqa: BLE001 - a crash is reported, not hidden
            return {"outcome": "error", "message": f"{type(e).__name__}: {e}"[:300]}
    if doc.get("refused"):
        return {"outcome": "killed", "refused": True, "reasons": doc.get("reasons")}
    if not doc.get("passed"):
        return {"outcome": "killed", "reasons": doc.get("reasons")}
    return {"outcome": "survived", "max_abs_diff": doc.get("max_abs_diff")}


__all__ = ["CLASSES", "EQUIVALENT", "Mutant", "dead_reason", "enumerate_mutants", "equivalent_reason", "materialize",
           "run_mutant", "select", "spec_files", "used_blocks"]
