"""`onnx`: the dynamo-based exporter (`torch.onnx.export(exported_program, dynamo=True)`), opset
>= 18, translating the same `ExportedProgram` as the pt2 artifact; its progress prints and logs are
captured. The model passes `onnx.checker.check_model` and is reloaded in an ONNX Runtime
`InferenceSession` (CPU) for verification.

Names: graph inputs and outputs are the spec's input and output names; dynamic axes are named after
the spec's symbols (`B`, `H`; a derived dim's base is `H_div16`). ONNX value names are the exported
program's node names, and each ONNX node that computes an IR node's value carries the metadata
property `archc.node` = the IR path, so a mismatch is located by re-running the session with those
values added as graph outputs (`intermediates`).
"""
from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from typing import Any, Mapping

from archc.diagnostics import Diagnostic, DiagnosticError
from archc.export.formats.pt2 import TAG
from archc.export.registry import ExportContext, ExportFormat, register_format, timed
from archc.export.verify import Runner, UnsupportedDtype
from archc.ir.graph import Graph

META_KEY = "archc.node"
TWO_GB = 2**31 - 2**20
_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir", "torch.export", "torch._export", "torch.fx.experimental.symbolic_shapes")


@contextlib.contextmanager
def quiet():
    """Silence the exporter: stdout/stderr prints, its loggers, its warnings."""
    saved = {}
    for name in _LOGGERS:
        lg = logging.getLogger(name)
        saved[name] = lg.level
        lg.setLevel(logging.ERROR)
    buf = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            warnings.simplefilter("ignore")
            yield buf
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def export(ep: Any, graph: Graph, path: str, opset: int) -> dict:
    """Translate, name, tag and save. Returns facts for the manifest."""
    import onnx
    import torch

    try:
        with quiet():
            prog = torch.onnx.export(ep, (), None, opset_version=opset, dynamo=True, optimize=True, verbose=False,
                                     output_names=list(graph.outputs))
    except Exception as e:  # noqa: BLE001
        raise DiagnosticError([failure(e, ep, graph)]) from None
    model = prog.model_proto
    tags = {n.name: (n.meta.get("custom") or {}).get(TAG) for n in prog.exported_program.graph.nodes}
    out_tags = _output_tags(prog.exported_program, graph, tags)
    for node in model.graph.node:
        for o in node.output:
            tag = tags.get(o) or out_tags.get(o)
            if tag:
                node.metadata_props.add(key=META_KEY, value=tag)
                break
    _tag_helpers(model.graph)
    _name_after_spec(model.graph)
    _rename_dims(model, prog.exported_program, graph)
    from archc import __version__

    model.producer_name, model.producer_version = "archc", __version__
    entry = model.metadata_props.add()
    entry.key, entry.value = "archc.graph", graph.name
    size = model.ByteSize()
    if size > TWO_GB:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.rsplit("/", 1)[-1] + ".data", size_threshold=1024)
    else:
        onnx.save_model(model, path)
    return {"opset": opset, "external_data": size > TWO_GB}


PART_KEY = "archc.part"     # "helper": a node that feeds an IR node's computation but is not its value


def _tag(node: Any) -> str | None:
    return next((p.value for p in node.metadata_props if p.key == META_KEY), None)


def _output_tags(ep: Any, graph: Graph, tags: Mapping[str, Any]) -> dict[str, str]:
    """Graph output name -> the IR path of the node computing it (the exporter renames the last
    values to the spec's output names, so their exported-program names no longer match)."""
    out_node = next(n for n in ep.graph.nodes if n.op == "output")
    args = out_node.args[0] if isinstance(out_node.args[0], (tuple, list)) else (out_node.args[0],)
    found = {}
    for name, a in zip(graph.outputs, args):
        t = tags.get(getattr(a, "name", None))
        if t:
            found[name] = t
    return found


def _tag_helpers(g: Any) -> None:
    """Give every untagged node the IR path of the first tagged node its values flow into (else of
    the last tagged node before it), marked `archc.part = helper`: Netron then shows every node,
    constants and shape arithmetic included, under the spec node it serves."""
    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(g.node):
        for x in node.input:
            consumers.setdefault(x, []).append(i)
    tag_of: dict[int, str | None] = {i: _tag(n) for i, n in enumerate(g.node)}
    for i in range(len(g.node) - 1, -1, -1):          # consumers come later: one backward pass
        if tag_of[i] is None:
            nxt = sorted(j for o in g.node[i].output for j in consumers.get(o, ()) if tag_of.get(j))
            if nxt:
                tag_of[i] = tag_of[nxt[0]]
    last = None
    for i, node in enumerate(g.node):
        if tag_of[i] is None:
            tag_of[i] = last
        last = tag_of[i] or last
        if _tag(node) is None and tag_of[i]:
            node.metadata_props.add(key=META_KEY, value=tag_of[i])
            node.metadata_props.add(key=PART_KEY, value="helper")


def _name_after_spec(g: Any) -> None:
    """Node names `PATH/OpType`, the value an IR node computes named PATH, and the values inside
    its computation named after their node (`PATH/MatMul`, `PATH/Split:1`), instead of the
    exporter's `node_Conv_153` and `getitem_3`: Netron shows the spec's names. Graph inputs, outputs and
    initializers keep their names; nothing is renamed in a graph with subgraphs."""
    if any(a.g.node or a.graphs for n in g.node for a in n.attribute if a.type in (5, 10)):  # GRAPH, GRAPHS
        return
    keep = {v.name for v in g.input} | {v.name for v in g.output} | {t.name for t in g.initializer}
    taken = set(keep) | {o for n in g.node for o in n.output}
    count: dict[str, int] = {}

    def unique(base: str) -> str:
        k = count.get(base, 0)
        name = base if k == 0 else f"{base}_{k}"
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        count[base] = k + 1
        taken.add(name)
        return name

    # the last primary node of each path computes that path's value
    last: dict[str, int] = {}
    for i, node in enumerate(g.node):
        t = _tag(node)
        if t and not any(p.key == PART_KEY for p in node.metadata_props):
            last[t] = i
    rename: dict[str, str] = {}
    for i, node in enumerate(g.node):
        t = _tag(node)
        if not t:
            continue
        node.name = unique(f"{t}/{node.op_type}")
        for k, out in enumerate(node.output):
            if not out or out in keep:
                continue
            want = t if (k == 0 and last.get(t) == i) else (node.name if k == 0 else f"{node.name}:{k}")
            if out != want:
                taken.discard(out)
                rename[out] = unique(want) if want == t else want
    if not rename:
        return
    for node in g.node:
        for k, x in enumerate(node.input):
            if x in rename:
                node.input[k] = rename[x]
        for k, x in enumerate(node.output):
            if x in rename:
                node.output[k] = rename[x]
    for vi in g.value_info:
        if vi.name in rename:
            vi.name = rename[vi.name]


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SUMMARY_LINE = re.compile(r"^<class '(?:[\w.]+\.)?(\w+)'>: (.*)$")
_FX_NODE = re.compile(r"(?:translating|calling) node %?(\w+)|node %(\w+)")
CAUSE_CHARS = 400


def _clip(text: str, n: int = CAUSE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3].rstrip() + "..."


def exporter_cause(e: BaseException) -> tuple[str, str]:
    """(cause, full summary) of an ONNX exporter exception, ANSI colour codes stripped: the cause
    is the innermost exception of its `## Exception summary` (or of the `__cause__` chain), as
    `Kind: message`, bounded to CAUSE_CHARS; the summary is every summary line, for locating."""
    text = _ANSI.sub("", str(e))
    _, sep, summary = text.partition("## Exception summary")
    lines = [ln.strip() for ln in summary.splitlines() if _SUMMARY_LINE.match(ln.strip())] if sep else []
    if lines:
        kind, message = _SUMMARY_LINE.match(lines[0]).groups()
        return _clip(f"{kind}: {message}"), "\n".join(lines)
    chain = [e]
    while chain[-1].__cause__ is not None and len(chain) < 16:
        chain.append(chain[-1].__cause__)
    inner = chain[-1]
    msgs = [_ANSI.sub("", str(c)) for c in chain]
    first = next((ln.strip() for ln in msgs[-1].splitlines() if ln.strip()), "")
    return _clip(f"{type(inner).__name__}: {first}" if first else type(inner).__name__), "\n".join(msgs)


def failing_node(summary: str, ep: Any, graph: Graph) -> Any:
    """The first spec node the exporter's message names (an exported-program node `%name`, mapped
    through the `archc_node` tag that `pt2.tag_nodes` copied from `node_map(gm)`), or None."""
    tags: dict[str, str] = {}
    try:
        for n in ep.graph.nodes:
            p = (n.meta.get("custom") or {}).get(TAG)
            if p:
                tags[n.name] = p
    except Exception:  # noqa: BLE001 - no program to read: no node
        return None
    for m in _FX_NODE.finditer(summary):
        path = tags.get(m.group(1) or m.group(2))
        if path is not None:
            try:
                return graph.node(path)
            except KeyError:
                continue
    return None


def failure(e: BaseException, ep: Any, graph: Graph) -> Diagnostic:
    """ARC510 for an exception of the ONNX exporter: its cause, at the spec node involved."""
    cause, summary = exporter_cause(e)
    node = failing_node(summary, ep, graph)
    where = f" at `{node.path}` ({node.op})" if node is not None else ""
    return Diagnostic("ARC510", f"the ONNX exporter failed{where}: {cause}", node.span if node is not None else None,
                      hint="an op of this spec has no ONNX translation at this opset or for these shapes; "
                           "try --opset, change the node, or drop onnx from --emit")


def _rename_dims(model: Any, ep: Any, graph: Graph) -> None:
    """torch's symbol names (s40, 16*s15) -> the spec's (B, H; H_div16 for a derived dim's base)."""
    import sympy

    exact: dict[str, str] = {}
    base: dict[str, str] = {}
    user_inputs = [n for n in ep.graph.nodes if n.op == "placeholder" and n.name in graph.inputs]
    for n in user_inputs:
        val = n.meta.get("val")
        if val is None:
            continue
        for ax, d in enumerate(graph.inputs[n.name].type.shape):
            s = val.shape[ax]
            if not hasattr(s, "node"):
                continue
            expr = s.node.expr
            exact[str(expr)] = str(d)
            free = list(expr.free_symbols)
            if len(free) == 1:
                sym = free[0]
                if expr == sym:
                    base[str(sym)] = str(d)
                else:
                    coeff = sympy.Poly(expr, sym).coeffs()[0] if expr.is_polynomial(sym) else None
                    base[str(sym)] = f"{d}_div{coeff}" if coeff is not None else f"{d}_base"

    def fix(dim_param: str) -> str:
        if dim_param in exact:
            return exact[dim_param]
        return re.sub(r"\bs\d+\b", lambda m: base.get(m.group(0), m.group(0)), dim_param)

    vis = list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info)
    for vi in vis:
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param"):
                d.dim_param = fix(d.dim_param)


def check(path: str) -> None:
    import onnx

    try:
        onnx.checker.check_model(path, full_check=False)
    except Exception as e:  # noqa: BLE001
        raise DiagnosticError([Diagnostic("ARC623", f"onnx: onnx.checker.check_model rejects the model: {str(e).splitlines()[0][:300]}", None)]) from None


_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(bfloat16)": "bfloat16",
              "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(bool)": "bool", "tensor(double)": "float64"}


class OnnxRunner(Runner):
    fmt = "onnx"

    def __init__(self, path: str, graph: Graph):
        self.path = path
        self.graph = graph
        self.session = self._session(path)
        self.input_names = [i.name for i in self.session.get_inputs()]

    @staticmethod
    def _session(path_or_bytes: Any) -> Any:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.intra_op_num_threads = 1  # see archc.export.verify.latency; also no spinning threads left behind
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(path_or_bytes, so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001
            text = str(e)
            if "NOT_IMPLEMENTED" in text or "Could not find an implementation" in text:
                op = re.search(r"for (\w+)\(\d+\) node", text)
                raise UnsupportedDtype("ONNX Runtime (CPU) has no kernel for "
                                       + (f"`{op.group(1)}`" if op else "an operator") + " at this dtype") from None
            bad = re.search(r"Type Error: Type 'tensor\((\w+)\)' of input parameter .* of operator \((\w+)\)", text)
            if bad:  # the ONNX schema of an op (Conv) does not list the dtype (bfloat16): no kernel either
                raise UnsupportedDtype(f"ONNX Runtime (CPU) has no kernel for `{bad.group(2)}` at {bad.group(1)}") from None
            raise

    def _feed(self, inputs: Mapping[str, Any]) -> dict:
        import torch

        feed = {}
        for name, t in zip(self.input_names, inputs.values()):
            if t.dtype == torch.bfloat16:
                raise UnsupportedDtype("numpy cannot carry bfloat16 inputs to ONNX Runtime")
            feed[name] = t.detach().cpu().numpy()
        return feed

    def run(self, inputs: Mapping[str, Any]) -> list[Any]:
        if self.session is None:
            self.session = self._session(self.path)
        return list(self.session.run(None, self._feed(inputs)))

    def intermediates(self, inputs: Mapping[str, Any], ref: Mapping[str, Any]) -> dict[str, list[Any]]:
        """Add every tagged value as a graph output and run once more."""
        import onnx

        model = onnx.load(self.path)
        known = {vi.name: vi for vi in model.graph.value_info}
        outs = {o.name for o in model.graph.output}
        order: list[tuple[str, str]] = []
        for node in model.graph.node:
            tag = _tag(node)
            if tag is None or any(p.key == PART_KEY for p in node.metadata_props):
                continue
            for o in node.output:
                if o and o not in outs:
                    vi = known.get(o) or onnx.helper.ValueInfoProto(name=o)
                    model.graph.output.append(vi)
                    outs.add(o)
                order.append((tag, o))
        sess = self._session(model.SerializeToString())
        names = [o.name for o in sess.get_outputs()]
        vals = dict(zip(names, sess.run(names, self._feed(inputs))))
        got: dict[str, list[Any]] = {}
        self._where = {}
        for tag, o in order:
            if o in vals:
                got.setdefault(tag, []).append(vals[o])
                self._where[tag] = f"value `{o}`"
        return got

    def describe(self, path: str) -> str | None:
        return getattr(self, "_where", {}).get(path)


def _export(ctx: ExportContext, entry: dict) -> list[str]:
    elapsed = timed()
    info = export(ctx.program, ctx.graph, ctx.file("model.onnx"), ctx.opset)
    entry.update(info)
    entry["export_seconds"] = ctx.program_seconds + elapsed()
    entry["notes"].append("export_seconds includes the torch.export trace it translates")
    check(ctx.file("model.onnx"))
    entry["checker"] = "onnx.checker.check_model: passed"
    return ["model.onnx"] + (["model.onnx.data"] if info.get("external_data") else [])


register_format(ExportFormat(
    name="onnx",
    files=("model.onnx", "model.onnx.data"),
    exporter="torch.onnx.export(dynamo=True) of the torch.export program",
    export=_export,
    load=lambda ctx: OnnxRunner(ctx.file("model.onnx"), ctx.graph),
    needs=("onnx", "onnxscript", "onnxruntime"),
    default=True,
    order=20,
    uses_program=True,
    uses_opset=True,
))
