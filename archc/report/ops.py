"""The op reference, generated from the op registry: data (`op_entries`, the `archc ops --json`
document), Markdown (`ops_markdown`, checked in as docs/ops.md) and rich text for the terminal."""
from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from archc.ops._registry import InferContext, OpDef
from archc.ir.dims import evaluate
from archc.ir.types import ShapeError, TensorType

SCHEMA_VERSION = 1
DOC_COMMAND = "archc ops --markdown > docs/ops.md"
_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="), ("multiple_of", "multiple of"),
           ("min_length", "at least"), ("max_length", "at most"))


def type_str(t: Any) -> str:
    """An attribute's type as a spec author reads it: `int | list[int]`, `"same" | "valid"`, `float | null`."""
    if t is type(None):
        return "null"
    origin, args = get_origin(t), get_args(t)
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin is Union or (hasattr(types, "UnionType") and origin is getattr(types, "UnionType")):
        return " | ".join(type_str(a) for a in args)
    if origin is typing.Annotated:
        return type_str(args[0])
    if origin is not None and args:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_str(a) for a in args)}]"
    if isinstance(t, type):
        return t.__name__
    return str(t).replace("typing.", "")


def _yaml_value(v: Any) -> str:
    return json.dumps(v, default=str)


def attr_entries(op: OpDef) -> list[dict[str, Any]]:
    out = []
    for name, f in op.attrs.model_fields.items():
        required = f.is_required()
        if required:
            default = None
        elif f.default_factory is not None:
            default = _yaml_value(f.default_factory())  # type: ignore[call-arg]
        else:
            default = _yaml_value(f.default)
        bounds = []
        for m in f.metadata:
            for key, word in _BOUNDS:
                v = getattr(m, key, None)
                if v is not None:
                    bounds.append(f"{word} {v}")
        out.append({
            "name": f.alias or name,
            "type": type_str(f.annotation),
            "required": required,
            "default": default,
            "constraints": bounds,
            "description": f.description or "",
        })
    return out


class _ExampleCtx(InferContext):
    """Concrete example shapes: every dim is an int, so equalities are checked directly."""

    def require_equal(self, a, b, what, inputs=None) -> None:
        if evaluate(a, {}) != evaluate(b, {}):
            raise ShapeError("ARC201", f"{what}: {a} != {b}")

    def example(self, d):
        return evaluate(d, {})


def example_outputs(op: OpDef) -> list[list[int]] | None:
    """The output shapes of the op's example on its `example_inputs` (None if they cannot be had)."""
    import yaml

    try:
        spec = yaml.safe_load(op.example)
        spec.pop("op", None)
        attrs = op.attrs.model_validate(spec)
        dts = op.example_dtypes or ("float32",) * len(op.example_inputs)
        out = op.infer(_ExampleCtx(), attrs, [TensorType(tuple(s), dt) for s, dt in zip(op.example_inputs, dts)])
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        return [[int(d) for d in t.shape] for t in outs]
    except Exception:
        return None


def _arity(op: OpDef) -> str:
    lo, hi = op.arity
    if hi == lo:
        return str(lo)
    return f"{lo} or more" if hi is None else f"{lo} to {hi}"


def op_entry(op: OpDef) -> dict[str, Any]:
    return {
        "name": op.name,
        "family": op.family,
        "doc": op.doc,
        "inputs": _arity(op),
        "attributes": attr_entries(op),
        "shape": op.shape_doc,
        "lowers_to": op.lowers_to,
        "params": op.params is not None,
        "example": op.example,
        "example_inputs": [list(s) for s in op.example_inputs],
        "example_outputs": example_outputs(op),
        "plugin": is_plugin(op),
    }


def is_plugin(op: OpDef) -> bool:
    return not getattr(op.infer, "__module__", "archc.ops").startswith("archc.")


def families(ops: dict[str, OpDef], builtin_only: bool = False) -> dict[str, list[OpDef]]:
    """Ops by family, families alphabetically, ops in registration order within each."""
    fam: dict[str, list[OpDef]] = {}
    for op in ops.values():
        if builtin_only and is_plugin(op):
            continue
        fam.setdefault(op.family, []).append(op)
    return dict(sorted(fam.items()))


def ops_document(ops: dict[str, OpDef]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION,
            "families": {f: [op_entry(o) for o in lst] for f, lst in families(ops).items()}}


# ---------------------------------------------------------------------------------------------
# Markdown (docs/ops.md)
# ---------------------------------------------------------------------------------------------


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _md_op(e: dict[str, Any]) -> list[str]:
    out = [f"### `{e['name']}`", "", e["doc"], ""]
    if e["attributes"]:
        out += ["| attribute | type | default | description |", "| --- | --- | --- | --- |"]
        for a in e["attributes"]:
            typ = f"`{_md_cell(a['type'])}`" + (f" ({', '.join(a['constraints'])})" if a["constraints"] else "")
            default = "*required*" if a["required"] else f"`{_md_cell(a['default'])}`"
            out.append(f"| `{a['name']}` | {typ} | {default} | {_md_cell(a['description'])} |")
    else:
        out.append("No attributes.")
    out += ["", f"- **Inputs:** {e['inputs']}", f"- **Shape:** {e['shape']}", f"- **Lowers to:** `{e['lowers_to']}`",
            f"- **Parameters:** {'yes' if e['params'] else 'none'}", "", "Example:", "", "```yaml",
            f"- {e['name']}: {e['example']}", "```", ""]
    if e["example_inputs"]:
        ins = ", ".join(json.dumps(s) for s in e["example_inputs"])
        outs = ", ".join(json.dumps(s) for s in e["example_outputs"]) if e["example_outputs"] else None
        out += [f"with input{'s' if len(e['example_inputs']) > 1 else ''} {ins}"
                + (f" gives {outs}." if outs else "."), ""]
    return out


def ops_markdown(ops: dict[str, OpDef] | None = None) -> str:
    """docs/ops.md: every built-in op, by family (plugins are left out: they document themselves)."""
    from archc.ops import load_ops

    fam = families(ops if ops is not None else load_ops(), builtin_only=True)
    n = sum(len(v) for v in fam.values())
    out = [
        "# Op reference",
        "",
        f"<!-- Generated from the op registry by `{DOC_COMMAND}`; do not edit by hand. -->",
        "",
        f"{n} ops in {len(fam)} families. Each op is used in a spec as `name: {{op: OP, attribute: value, ...}}`; "
        "input channels and sizes are inferred, never written. `archc ops NAME` prints the same reference in a terminal.",
        "",
    ]
    for f, lst in fam.items():
        out.append(f"- **{f}**: " + ", ".join(f"[`{o.name}`](#{o.name})" for o in lst))
    out.append("")
    for f, lst in fam.items():
        out += [f"## {f}", ""]
        for o in lst:
            out += _md_op(op_entry(o))
    return "\n".join(out).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------------------
# Terminal
# ---------------------------------------------------------------------------------------------


_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.")


def first_sentence(doc: str) -> str:
    """The summary line of a doc: up to the first full stop that ends a sentence.

    A full stop ends a sentence when it is followed by a space, stands outside brackets and code
    spans, and is not part of an abbreviation ("e.g.") or an ellipsis ("...").
    """
    depth = 0
    code = False
    for i, ch in enumerate(doc):
        if ch == "`":
            code = not code
        elif code:
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch == "." and depth == 0 and doc[i + 1:i + 2] == " ":
            if i > 0 and doc[i - 1] == ".":
                continue  # an ellipsis
            word = doc[:i + 1].rsplit(" ", 1)[-1].lower()
            if word in _ABBREVIATIONS:
                continue
            return doc[:i + 1]
    return doc


def render_ops_list(con: Any, ops: dict[str, OpDef], only_family: str | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    for f, lst in families(ops).items():
        if only_family is not None and f != only_family:
            continue
        t = Table(title=f, title_justify="left", title_style="bold", show_edge=False, pad_edge=False, show_header=False)
        t.add_column("op", style="cyan", no_wrap=True)
        t.add_column("doc")
        for o in lst:
            t.add_row(Text(o.name + (" (plugin)" if is_plugin(o) else "")), Text(first_sentence(o.doc)))
        con.print(t)
        con.print()
    con.print("`archc ops NAME` for an op's attributes, shape rule and example.", style="dim", markup=False)


def render_op_detail(con: Any, op: OpDef) -> None:
    from rich.table import Table
    from rich.text import Text

    e = op_entry(op)
    con.print(Text.assemble((e["name"], "bold cyan"), f"  ({e['family']})" + ("  plugin" if e["plugin"] else "")))
    con.print(e["doc"], markup=False)
    con.print()
    if e["attributes"]:
        t = Table(show_edge=False, pad_edge=False)
        t.add_column("attribute", style="cyan", no_wrap=True)
        t.add_column("type")
        t.add_column("default")
        t.add_column("description")
        for a in e["attributes"]:
            typ = a["type"] + (f" ({', '.join(a['constraints'])})" if a["constraints"] else "")
            t.add_row(*(Text(x) for x in (a["name"], typ, "required" if a["required"] else a["default"], a["description"])))
        con.print(t)
    else:
        con.print("no attributes")
    con.print()
    for label, value in (("inputs", e["inputs"]), ("shape", e["shape"]), ("lowers to", e["lowers_to"]),
                         ("parameters", "yes" if e["params"] else "none")):
        con.print(Text.assemble((f"{label}: ", "bold"), value or "-"))
    con.print(Text.assemble(("example: ", "bold"), f"- {e['name']}: {e['example']}"))
    if e["example_inputs"]:
        ins = ", ".join(json.dumps(s) for s in e["example_inputs"])
        outs = ", ".join(json.dumps(s) for s in e["example_outputs"]) if e["example_outputs"] else "?"
        con.print(f"         on {ins} gives {outs}", markup=False)
