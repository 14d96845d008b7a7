"""The elaboration walk: typed spec nodes -> graph IR, with shapes inferred as each node is created.

Expansion and inference are one walk because expressions may ask for shapes (`channels(x)` in a
block's `when:`). The walk resolves params, variants and `--set` overrides, evaluates `${...}`,
expands blocks, repeats and sequences, drops absent conditional nodes (which then stand for their
input), validates each op's evaluated attributes, runs its shape rule, and records the constraints
the ops imply on the symbols. Every problem is collected as a located Diagnostic.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any

from pydantic import ValidationError

from archc.diagnostics import Diagnostic, DiagnosticError, Related, Span
from archc.elaborate import finish, frame
from archc.elaborate.control import Abort as _Abort
from archc.elaborate.control import ForwardRef as _ForwardRef
from archc.elaborate.overflow import big_ints, shown, storage_problem
from archc.elaborate.reserved import reserved_prefix
from archc.elaborate.state import State
from archc.elaborate.symsize import SYMBOLIC_QUERY, SymSize, unwrap
from archc.ir import dims as D
from archc.ir import gc_pause
from archc.ir.expr import ExprError, contains_expr, parse
from archc.ir.graph import ConstraintOrigin, Graph, Node, Scope, ValueRef
from archc.ir.types import ShapeError, TensorType, scalar_type
from archc.ops import OPS, InferContext, load_ops
from archc.session import DEFAULT_PARAM_LIMIT, Session  # noqa: F401  (DEFAULT_PARAM_LIMIT re-exported)
from archc.spec.load import LoadedSpec, SpecFile
from archc.spec.models import ParamSpec
from archc.spec.nodes import BlockUse, Entry, InvalidNode, OpUse, SeqUse, ref_names

MAX_REPEAT = 10_000
SUGGEST_AMONG = 256   # "did you mean" searches at most this many names (difflib is ~ms per 100)
MAX_NODES = 200_000   # graph nodes (a repeat's copies count their nodes)
MAX_COPIES = 200_000  # repeat copies expanded at once (the product of nested repeat counts)
_PARAM_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "list": (list,), "any": (object,)}


@dataclass(frozen=True)
class NodeRefValue:
    """What a node name means inside an expression: only shape queries accept it."""

    ref: ValueRef
    name: str

    def __repr__(self) -> str:
        return f"<node {self.name}>"


@dataclass(frozen=True, eq=False)
class Number:
    """A number operand in `from:` (`from: [x, 0.5]`, or `"${eps}"` evaluated), with where it is written.
    It travels with the node's input refs until `expand_op`, which makes it a constant operand."""

    value: int | float
    span: Span | None

    def __str__(self) -> str:
        return repr(self.value)


def _tensor_refs(in_refs: list) -> list[ValueRef]:
    return [r for r in in_refs if not isinstance(r, Number)]


class _Env(Mapping):
    """What a node's expressions see, without copying: `extra` (the repeat index `i`), then the
    params, then the scope's node and input names (as `NodeRefValue`s). A view, not a copy: a
    node's env costs O(1) however many nodes its scope already has."""

    __slots__ = ("params", "refs", "extra")

    def __init__(self, params: Mapping[str, Any], refs: Mapping[str, ValueRef], extra: Mapping[str, Any] | None = None):
        self.params, self.refs, self.extra = params, refs, extra or {}

    def __getitem__(self, k: str) -> Any:
        if k in self.extra:
            return self.extra[k]
        if k in self.params:
            return self.params[k]
        return NodeRefValue(self.refs[k], k)

    def __contains__(self, k: object) -> bool:
        return k in self.extra or k in self.params or k in self.refs

    def __iter__(self) -> Iterator[str]:
        seen = set(self.extra)
        yield from self.extra
        for k in self.params:
            if k not in seen:
                seen.add(k)
                yield k
        yield from (k for k in self.refs if k not in seen)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _with_i(env: Mapping[str, Any], i: int) -> Mapping[str, Any]:
    """`env` with the repeat index `i` set (a view when env is one)."""
    if isinstance(env, _Env):
        return _Env(env.params, env.refs, {**env.extra, "i": i})
    return dict(env, i=i)


@dataclass
class _Names:
    """Names visible inside one `layers:` list."""

    prefix: str                    # module path prefix of nodes created here ("" or "layer1.0.")
    refs: dict[str, ValueRef]      # local name -> value
    spans: dict[str, Span | None]  # local name -> where it was defined
    file: SpecFile
    env: dict[str, Any]            # params visible to expressions
    block: str | None


class _Ctx(InferContext):
    def __init__(self, ex: "Elaborator", node_path: str, span: Span | None, in_refs: list[ValueRef],
                 positions: list[int] | None = None):
        self.ex, self.node_path, self.span, self.in_refs = ex, node_path, span, in_refs
        # operand position -> index in `in_refs` (the tensor inputs), when numbers are among the operands
        self.positions = {p: k for k, p in enumerate(positions)} if positions is not None else None

    def example(self, d: D.Dim) -> int:
        return D.evaluate(d, self.ex.st.example_env)

    def float_dtype(self) -> str:
        from archc.ir.types import FLOAT_DTYPES

        floats = {i.type.dtype for i in self.ex.st.inputs.values() if i.type.dtype in FLOAT_DTYPES}
        return floats.pop() if len(floats) == 1 else "float32"

    def require_equal(self, a: D.Dim, b: D.Dim, what: str, inputs: tuple[int, int] | None = None) -> None:
        if D.equal(a, b):
            return
        if D.is_const(a) and D.is_const(b):
            raise ShapeError("ARC201", f"{what}: {D.dim_str(a)} vs {D.dim_str(b)}",
                             input_index=inputs[1] if inputs else None)
        if inputs is not None and self.positions is not None:  # the rule counts operands; the origin, tensor inputs
            inputs = (self.positions[inputs[0]], self.positions[inputs[1]]) if all(i in self.positions for i in inputs) else None
        self.ex.st.constraints.append(D.Constraint(a, b, origin=ConstraintOrigin(
            self.node_path, what, inputs, self.span, tuple(self.in_refs))))


class Elaborator:
    """One elaboration: the spec, the session it reports into, and its `State`."""

    def __init__(self, spec: LoadedSpec, session: Session):
        load_ops()
        o = session.options
        self.spec = spec
        self.main = spec.main
        self.model = spec.main.model
        self.session = session
        self.symbolic_attr: str | None = None  # set while evaluating an attribute whose sizes may stay symbolic
        self.st = State(overrides=dict(o.overrides), override_spans=dict(o.override_spans), variant=o.variant,
                        param_limit=o.param_limit, diags=session.diagnostics)

    def fail(self) -> DiagnosticError:
        return self.session.error()

    # ---------------------------------------------------------------- diagnostics helpers
    def error(self, code: str, message: str, span: Span | None, hint: str | None = None,
              related: tuple[Related, ...] = (), severity: str = "error") -> None:
        self.st.diags.append(Diagnostic(code, message, span, severity=severity, hint=hint, related=related))  # type: ignore[arg-type]

    def expr_span(self, span: Span | None, file: SpecFile, offset: int | None) -> Span | None:
        """Point inside a scalar at the expression's culprit when it's on one line."""
        if span is None or offset is None or (span.end_line not in (None, span.line)):
            return span
        import re

        lines = file.loaded.text.splitlines()
        quote = 0
        line = ""
        if 0 < span.line <= len(lines):
            line = lines[span.line - 1]
            if span.col - 1 < len(line) and line[span.col - 1] in "'\"":
                quote = 1
        col = span.col + quote + offset
        # the culprit token: a name, a number, or one character
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*|\d+(\.\d+)?|\S").match(line, col - 1) if line else None
        end = col + (len(m.group(0)) if m else 1)
        return Span(span.file, span.line, col, span.line, end)

    def eval_value(self, value: Any, env: dict[str, Any], span: Span | None, file: SpecFile, what: str) -> Any:
        """Evaluate `${...}` in a value (recursively in lists/dicts). Raises _Abort after recording."""
        if isinstance(value, list):
            return [self.eval_value(v, env, span, file, what) for v in value]
        if isinstance(value, dict):
            return {k: self.eval_value(v, env, span, file, what) for k, v in value.items()}
        if not (isinstance(value, str) and "${" in value):
            return value
        try:
            return parse(value).evaluate(env, self.functions)
        except ExprError as e:
            self.error(e.code, f"in {what}: {e.message}", self.expr_span(span, file, e.offset), hint=e.hint)
            raise _Abort from None

    # ---------------------------------------------------------------- shape-query functions
    def _ref_type(self, v: Any, fn: str) -> TensorType:
        if isinstance(v, NodeRefValue):
            if v.ref in self.st.poisoned:
                raise ValueError(f"`{v.name}` has no shape (it failed earlier)")
            return self.type_of(v.ref)
        if isinstance(v, str) and self.st.current_scope is not None and v in self.st.current_scope.refs:
            return self.type_of(self.st.current_scope.refs[v])
        raise ValueError(f"{fn}() takes a node or input name, got {v!r}")

    def _fn_channels(self, ref: Any) -> Any:
        t = self._ref_type(ref, "channels")
        if t.rank < 2:
            raise ValueError(f"channels() needs a tensor of rank >= 2, got {t.shape_str()}")
        return self._intdim(t.shape[1], f"channels({_ref_name(ref)})")

    def _fn_features(self, ref: Any) -> Any:
        t = self._ref_type(ref, "features")
        return self._intdim(t.shape[-1], f"features({_ref_name(ref)})")

    def _fn_dim(self, ref: Any, i: int) -> Any:
        t = self._ref_type(ref, "dim")
        if not isinstance(i, int) or not -t.rank <= i < t.rank:
            raise ValueError(f"dim() index {i!r} is out of range for rank {t.rank}")
        return self._intdim(t.shape[i], f"dim({_ref_name(ref)}, {i})")

    def _fn_rank(self, ref: Any) -> int:
        return self._ref_type(ref, "rank").rank

    def _intdim(self, d: D.Dim, query: str) -> Any:
        """A shape query's value: a fixed size, or, inside an attribute whose sizes may stay
        symbolic (`reshape`'s `shape`, `upsample`'s `size`: `symbolic_sizes` of the op's attributes), the symbolic dim
        itself (a `SymSize`, read at run time by the lowering). Elsewhere a size that depends on a
        symbol has no single value (the example size would be wrong at every other size), so it is
        refused (ARC208)."""
        if isinstance(d, int):
            return d
        syms = sorted(D.free_symbols(d))
        example = D.evaluate(d, self.st.example_env)
        if self.symbolic_attr is not None:
            unread = [s for s in syms if s not in self._runtime_symbols()]
            if not unread:
                return SymSize(d, (query,), self.st.example_env)
            raise ExprError(
                SYMBOLIC_QUERY,
                f"`{query}` is `{D.dim_str(d)}`, which depends on {', '.join(f'`{s}`' for s in unread)}: "
                f"no input has {'it' if len(unread) == 1 else 'them'} as a dim, so the size cannot be read "
                f"at run time, and {example} holds only at the example",
                hint="declare the symbol as a dim of an input (`shape: [B, C, H, W]`), or use a fixed size")
        raise ExprError(
            SYMBOLIC_QUERY,
            f"`{query}` is `{D.dim_str(d)}`, which depends on {', '.join(f'`{s}`' for s in syms)}: "
            f"a shape query must have one value at every size, and {example} holds only at the example "
            f"({', '.join(f'{s}={self.st.example_env[s]}' for s in syms)})",
            hint="use a fixed dim (a param, a constant channel count) or give the symbol a fixed size; "
                 "a size of `reshape`, `unflatten` or `upsample` may stay symbolic (`size: [\"${dim(skip, 2)}\", \"${dim(skip, 3)}\"]`)")

    def _runtime_symbols(self) -> set[str]:
        """The symbols that are a whole dim of some input, whose size the module can read at run time."""
        out: set[str] = set()
        for inp in self.st.inputs.values():
            for d in inp.type.shape:
                fs = D.free_symbols(d)
                if len(fs) == 1 and D.equal(d, D.sym(next(iter(fs)))):
                    out |= fs
        return out

    def eval_sizes(self, value: Any, env: dict[str, Any], span: Span | None, file: SpecFile, what: str) -> Any:
        """`eval_value` for an attribute whose sizes may stay symbolic: shape queries on symbolic
        dims give dims (kept in the attribute), not ARC208."""
        self.symbolic_attr = what
        try:
            return unwrap(self.eval_value(value, env, span, file, what))
        finally:
            self.symbolic_attr = None

    @property
    def functions(self) -> dict[str, Any]:
        return {"channels": self._fn_channels, "features": self._fn_features, "dim": self._fn_dim, "rank": self._fn_rank}

    def type_of(self, ref: ValueRef) -> TensorType:
        if ref.is_input:
            return self.st.inputs[ref.node].type
        return self.st.node_index[ref.node].outputs[ref.index]

    # ---------------------------------------------------------------- references
    def resolve_ref(self, name: str, scope: _Names, span: Span | None, later: dict[str, int], here: str,
                    absent_ok: bool = False) -> ValueRef:
        """The value `name` means in `scope`. A left-out input-less node is an error (ARC104) unless
        `absent_ok` (a node's `from:`, checked once its `when` says the node is there)."""
        index = 0
        base = name
        if name.endswith("]") and "[" in name:
            base, _, idx = name[:-1].partition("[")
            index = int(idx)
        ref: ValueRef | None = None
        if base in scope.refs:
            ref = scope.refs[base]
        elif "." in base:
            head, _, rest = base.partition(".")
            if head in scope.refs:
                full = (scope.prefix + base)
                node = self.st.node_index.get(full)
                if node is None and rest:
                    # a reference to a block instance inside a repeat, e.g. layer1.0 -> its output
                    ref = self._scope_output(full)
                else:
                    ref = ValueRef(node.path) if node else None
        if ref is None:
            if base in later:
                raise _ForwardRef(base)
            # suggestions come from the names defined last (the likeliest typos): a bounded search,
            # so a spec with thousands of wrong references costs linear time, not refs x names
            cands = list(islice(reversed(scope.refs), SUGGEST_AMONG))[::-1]
            close = difflib.get_close_matches(base, cands, n=1)
            head, _, rest = base.rpartition(".")
            multi = scope.refs.get(head) if rest.isdigit() else None
            if multi is not None and not multi.is_input and len(self.st.node_index[multi.node].outputs) > 1:
                hint = (f"`{head}` has {len(self.st.node_index[multi.node].outputs)} outputs: refer to one as "
                        f"`{head}[{rest}]` (quoted in flow-style YAML: `from: \"{head}[{rest}]\"`)")
            else:
                hint = (f"did you mean `{close[0]}`?" if close else
                        (f"visible here: {', '.join(cands[-8:])}" if cands else None))
            self.error("ARC104", f"`{here}` takes input from `{base}`, which is not defined", span, hint=hint)
            raise _Abort
        if ref in self.st.absent and not absent_ok:
            self._absent_error(here, base, span, ref)
        if index:
            if ref.is_input or index >= len(self.st.node_index[ref.node].outputs):
                n_out = 1 if ref.is_input else len(self.st.node_index[ref.node].outputs)
                self.error("ARC104", f"`{base}` has {n_out} output(s); `{name}` does not exist", span)
                raise _Abort
            ref = ValueRef(ref.node, index)
        return ref

    def resolve_from(self, items: list[Any], listed: bool, scope: _Names, env: Mapping, path: tuple,
                     later: dict[str, int], nid: str) -> tuple[list[Any], list[str]]:
        """A node's `from:` items as operands (`ValueRef`s, and `Number`s for elementwise ops), and the
        name each came from. A name may hold `*` segments (`stages.*`, `stages.*.proj`: every
        repetition of the repeat `stages`, in order); an item may be a number, or a `${...}`
        expression that gives a number, names a node, or gives a node name or a list of them."""
        out: list[Any] = []
        labels: list[str] = []
        for k, item in enumerate(items):
            got = self._from_item(item, k, listed, scope, env, path, later, nid)
            for v, label in got:
                out.append(v)
                labels.append(label)
        return out, labels

    def _from_item(self, item: Any, k: int, listed: bool, scope: _Names, env: Mapping, path: tuple,
                   later: dict[str, int], nid: str) -> list[tuple[Any, str]]:
        f = scope.file
        fspan = f.value_span(path + ("from",))
        ispan = f.value_span(path + ("from", k) if listed else path + ("from",)) or fspan
        names = [item] if isinstance(item, str) else []
        if isinstance(item, str) and contains_expr(item):
            value = self.eval_value(item, env, ispan, f, f"`{nid}.from[{k}]`")
            if isinstance(value, NodeRefValue):
                return [(value.ref, value.name)]
            if isinstance(value, list) and value and all(isinstance(x, str) for x in value):
                names = value
            elif isinstance(value, str):
                names = [value]
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                self.error("ARC102", f"`{nid}` input {k}: the expression in `from:` gives {value!r}, not a number or a node",
                           ispan, hint="an operand in `from:` is a node or input name (or a list of them), or a number "
                           "for an elementwise op")
                raise _Abort
            else:
                item, names = value, []
            for x in names:
                if not _FROM_NAME.match(x):
                    self.error("ARC102", f"`{nid}` input {k}: the expression in `from:` gives {x!r}, which is not a "
                               "node or input name", ispan)
                    raise _Abort
                head = x.split("[")[0].split(".")[0]
                if head not in scope.refs and head not in later:  # a word, not a name: not a number or a node
                    self.error("ARC102", f"`{nid}` input {k}: the expression in `from:` gives {value!r}, not a number or a node",
                               ispan, hint="an operand in `from:` is a node or input name (or a list of them), or a "
                               "number for an elementwise op")
                    raise _Abort
        if isinstance(item, (int, float)):
            for _, big in big_ints(item):
                self.error("ARC209", f"`{nid}` input {k} is {shown(big)}, past the largest integer torch takes (2^63 - 1)", ispan)
                raise _Abort
            return [(Number(item, ispan), str(item))]
        out: list[tuple[Any, str]] = []
        for x in names:
            if "*" in x:
                out.extend(self._glob(x, scope, fspan, later, nid))
            else:
                out.append((self.resolve_ref(x, scope, fspan, later, nid, absent_ok=True), x))
        return out

    def _glob(self, pattern: str, scope: _Names, span: Span | None, later: dict[str, int],
              here: str) -> list[tuple[ValueRef, str]]:
        """`head.*.rest`: the value `head.<child>.rest` for every repetition `child` of the repeat
        (or item of the seq) `head`, in order; ARC104 where it matches nothing."""
        parts = pattern.split(".")
        k = parts.index("*") if "*" in parts else -1
        if k <= 0 or any("*" in p and p != "*" for p in parts):
            self.error("ARC104", f"`{here}` takes input from `{pattern}`: `*` stands for a whole name after a repeat's "
                       "name (`stages.*`, `stages.*.proj`)", span, hint="write `NAME.*`, NAME being a node with `repeat:`")
            raise _Abort
        head, rest = ".".join(parts[:k]), parts[k + 1:]
        self.resolve_ref(head, scope, span, later, here, absent_ok=True)  # an unknown or later `head`: reported there
        kids = self.st.children.get(scope.prefix + head)
        if kids is None:
            self.error("ARC104", f"`{here}` takes input from `{pattern}`, but `{head}` is not a repeat, so `*` matches "
                       "nothing", span, hint=f"`*` collects every repetition of a node with `repeat:` (or every item of a "
                       f"`seq`); to take `{head}` itself, write `{head}`")
            raise _Abort
        if not kids:
            self.error("ARC104", f"`{here}` takes input from `{pattern}`, but `{head}` repeats 0 times, so `*` matches "
                       "nothing", span, hint="make the repeat count at least 1, or leave this input out")
            raise _Abort
        out: list[tuple[ValueRef, str]] = []
        for child in kids:
            name = ".".join([head, child] + rest)
            if "*" in rest:
                out.extend(self._glob(name, scope, span, later, here))
            else:
                out.append((self.resolve_ref(name, scope, span, later, here, absent_ok=True), name))
        return out

    def _absent_error(self, here: str, base: str, span: Span | None, ref: ValueRef) -> None:
        self.error("ARC104", f"`{here}` takes input from `{base}`, which is left out (its `when` is false, or it "
                   "repeats 0 times) and has no input to stand for", span,
                   related=(Related(f"`{base}` is here", self.st.absent[ref]),),
                   hint=f"give `{here}` the same `when` as `{base}`, or take another input")
        raise _Abort

    def _scope_output(self, path: str) -> ValueRef | None:
        return self.st.scope_outputs.get(path)

    # ---------------------------------------------------------------- the walk
    def elaborate(self) -> Graph:
        n_before = len(self.st.diags)
        frame.resolve_params(self)
        frame.resolve_symbols(self)
        frame.resolve_inputs(self)
        if any(d.severity == "error" for d in self.st.diags[n_before:]):
            raise self.fail()  # params, symbols or inputs are wrong: nothing to walk
        m, f = self.model, self.main
        if not m.layers:
            self.error("ARC103", f"spec `{m.name}` has no `layers:`", f.key_span(("name",)),
                       hint="a library of blocks is imported by other specs; a model needs layers")
            raise self.fail()
        refs = {n: ValueRef(n, 0, True) for n in self.st.inputs}
        spans = {n: self.st.inputs[n].span for n in self.st.inputs}
        scope = _Names("", refs, spans, f, self.st.globals, None)
        first = next(iter(refs.values()), None)
        last = self.expand_layers(f.nodes.get(("layers",), []), ("layers",), scope, first)
        self.st.outputs = finish.resolve_outputs(self, scope, last)
        finish.check_ties(self)
        derived = finish.check_constraints(self)
        if any(d.severity == "error" for d in self.st.diags):
            raise self.fail()
        name = self.spec.extension.model.name if self.spec.extension is not None else m.name
        reference = None
        if m.reference is not None:
            try:
                reference = m.reference.model_copy(update={
                    "config": self.eval_value(dict(m.reference.config), self.st.globals, f.value_span(("reference", "config")), f, "reference config"),
                    "against": self.eval_value(m.reference.against, self.st.globals, f.value_span(("reference", "against")), f, "reference.against")})
            except _Abort:
                raise self.fail()
        return Graph(
            name=name, inputs=self.st.inputs, nodes=self.st.nodes, outputs=self.st.outputs, symbols=self.st.symbols,
            params=self.st.params, variant=self.st.variant, scopes=self.st.scopes, constraints=derived,
            ties=self.st.ties, init=m.init, spec_file=f.file, reference=reference,
        )

    def expand_layers(self, entries: list[Entry], data_path: tuple, scope: _Names, prev: ValueRef | None) -> ValueRef | None:
        later: dict[str, int] = {}
        for j, entry in enumerate(entries):
            if entry is not None:
                later.setdefault(entry.id, j)
        # entries that are not one `id: body` mapping were reported when the spec was loaded
        if all(e is not None for e in entries):
            self._check_cycles(entries, data_path, scope)
        else:
            self.st.cycle_nodes = set()
        for j, entry in enumerate(entries):
            if entry is None:
                continue
            nid = entry.id
            later.pop(nid, None) if later.get(nid) == j else None
            path = data_path + (j, nid)
            span = scope.file.key_span(path)
            if nid in scope.spans:
                self.error("ARC105", f"node id `{nid}` is already used in this scope", span,
                           related=(Related("first defined here", scope.spans[nid]),),
                           hint="ids are module paths; give each node its own")
                continue
            scope.spans[nid] = span
            try:
                out = self.expand_entry(entry, scope, prev, later)
            except _Abort:
                out = None
            except _ForwardRef as fr:
                self.error("ARC104", f"`{nid}` takes input from `{fr.name}`, which is defined later",
                           span, hint="a node can only use nodes defined before it",
                           related=(Related(f"`{fr.name}` is defined here", scope.file.key_span(data_path + (later[fr.name], fr.name))),))
                out = None
            if out is _ABSENT:  # an input-less node left out: it stands for nothing (see resolve_ref)
                ref = ValueRef(scope.prefix + nid)
                self.st.absent[ref] = span
                scope.refs[nid] = ref
                continue
            if out is None:
                poison = ValueRef(scope.prefix + nid)
                self.st.poisoned.add(poison)
                out = poison
            scope.refs[nid] = out
            prev = out
        return prev

    def _check_cycles(self, entries: list[Entry], data_path: tuple, scope: _Names) -> None:
        """Report cycles among the nodes of one scope (forward references that close a loop)."""
        ids = [e.id for e in entries]
        if len(set(ids)) != len(ids):  # duplicate ids are reported as ARC105; dependencies are ambiguous
            self.st.cycle_nodes = set()
            return
        deps: dict[str, list[str]] = {}
        for j, entry in enumerate(entries):
            nid, src = entry.id, entry.from_
            if src is None:
                deps[nid] = [ids[j - 1]] if j > 0 and not _sourceless(entry) else []
            else:
                deps[nid] = [n.split("[")[0].split(".")[0] for n in ref_names(src)]
        order = {nid: j for j, nid in enumerate(ids)}
        state: dict[str, int] = {}
        reported: set[frozenset] = set()

        def dfs(n: str, stack: list[str]) -> None:
            state[n] = 1
            stack.append(n)
            for d in deps.get(n, []):
                if d not in deps:
                    continue
                if state.get(d) == 1:
                    cyc = stack[stack.index(d):]
                    key = frozenset(cyc)
                    if key not in reported and any(order[x] < order[y] for x in cyc for y in deps.get(x, []) if y in order):
                        reported.add(key)
                        first = min(cyc, key=lambda x: order[x])
                        self.error("ARC106", "cycle: " + " -> ".join(cyc + [d]),
                                   scope.file.key_span(data_path + (order[first], first)),
                                   hint="data must flow forward: break the loop",
                                   related=tuple(Related(f"`{x}` is here", scope.file.key_span(data_path + (order[x], x))) for x in cyc if x != first))
                elif state.get(d) is None:
                    dfs(d, stack)
            stack.pop()
            state[n] = 2

        for nid in ids:
            if nid not in state:
                dfs(nid, [])
        self.st.cycle_nodes = {x for k in reported for x in k}

    def expand_entry(self, node: Entry, scope: _Names, prev: ValueRef | None, later: dict[str, int]) -> ValueRef | None:
        f = scope.file
        nid, path = node.id, node.path
        span = f.key_span(path)
        if nid in self.st.cycle_nodes or isinstance(node, InvalidNode):
            raise _Abort  # already reported
        # inputs
        src = node.from_
        env = _Env(scope.env, scope.refs)
        self.st.current_scope = scope
        if src is None:
            if _sourceless(node):
                in_refs = []  # a `param` or `constant`: no input (the next node still takes `prev`)
            elif prev is None:
                self.error("ARC104", f"`{nid}` has no input: the spec declares no `inputs:`", span)
                raise _Abort
            else:
                in_refs = [prev]
        else:
            names = [src] if isinstance(src, str) else list(src)
            if not names:  # every op and block takes at least one input
                self.error("ARC102", f"`{nid}` has `from: []`; a node takes at least one input", f.value_span(path + ("from",)),
                           hint="name its inputs, or drop `from:` to take the previous node's output")
                raise _Abort
            fspan = f.value_span(path + ("from",))
            self.st.from_spans[scope.prefix + nid] = fspan
            in_refs, names = self.resolve_from(names, isinstance(src, list), scope, env, path, later, nid)
        # condition
        if node.has("when"):
            cond = self.eval_value(node.when, env, f.value_span(path + ("when",)), f, f"`{nid}.when`")
            if not isinstance(cond, bool):
                self.error("ARC102", f"`{nid}.when` must be true or false, got {cond!r}", f.value_span(path + ("when",)))
                raise _Abort
            if not cond:
                return self.stand_in(nid, in_refs, span)
        for k, r in enumerate(in_refs):
            if isinstance(r, ValueRef) and r in self.st.absent:  # the node is there, and one of its inputs is not
                named = src is not None
                self._absent_error(nid, names[k] if named else "the previous node",
                                   f.value_span(path + ("from",)) if named else span, r)
        if any(r in self.st.poisoned for r in in_refs):
            raise _Abort
        full = scope.prefix + nid
        if node.has("repeat"):
            n = self._repeat_count(nid, node, scope, env)
            if n == 0:
                self.st.children[full] = []  # `nid.*` collects nothing
                return self.stand_in(nid, in_refs, span)
            self.st.repeat_product *= n
            try:
                return self._expand_repeat(full, nid, n, node, scope, env, in_refs, span)
            finally:
                self.st.repeat_product //= n
        return self.expand_instance(full, nid, node, scope, env, in_refs, span)

    def index_from(self, f: SpecFile, path: tuple, in_refs: list) -> bool:
        """An Ultralytics-style `from: [-1, 6]` (integers written literally where a node that takes
        tensors needs names): ARC102 naming the nodes each index would mean. False when the numbers
        are not all literal integers, for the caller's general message."""
        from archc.spec.index_from import _is_index, index_from_diagnostic

        fp = path + ("from",)
        raw = f.loaded.data
        try:
            for seg in fp:
                raw = raw[seg]
        except (KeyError, IndexError, TypeError):
            return False
        items = raw if isinstance(raw, list) else [raw]
        nums = [r for r in in_refs if isinstance(r, Number)]
        if not any(map(_is_index, items)) or not all(_is_index(n.value) for n in nums):
            return False
        self.st.diags.append(index_from_diagnostic(f.loaded.data, fp, f))
        return True

    def stand_in(self, nid: str, in_refs: list, span: Span | None) -> ValueRef:
        """What an absent node (`when:` false, `repeat: 0`) stands for: its first tensor input
        (`_ABSENT` for a node with no inputs, a `param` or `constant`)."""
        if not in_refs:
            return _ABSENT
        refs = _tensor_refs(in_refs)
        if not refs:
            self.error("ARC102", f"`{nid}` is absent and stands for its input, but every input in its `from:` is a number",
                       span, hint="an absent node stands for its first input, which must be a tensor")
            raise _Abort
        return refs[0]

    def _repeat_count(self, nid: str, node: OpUse | BlockUse | SeqUse, scope: _Names, env: dict) -> int:
        """The value of a node's `repeat`, checked against the limits."""
        f, path = scope.file, node.path
        n = self.eval_value(node.repeat, env, f.value_span(path + ("repeat",)), f, f"`{nid}.repeat`")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            self.error("ARC102", f"`{nid}.repeat` must be a non-negative integer, got {n!r}", f.value_span(path + ("repeat",)))
            raise _Abort
        if n > MAX_REPEAT:
            self.error("ARC115", f"`{nid}.repeat` is {n}; the limit is {MAX_REPEAT}", f.value_span(path + ("repeat",)))
            raise _Abort
        if n and self.st.repeat_product * n > MAX_COPIES:
            # copies cost work even when they hold no node (`when: false`): a separate bound
            self.error("ARC115", f"`{nid}.repeat` is {n} inside repeats totalling {self.st.repeat_product}: "
                       f"{self.st.repeat_product * n:,} copies would pass the limit of {MAX_COPIES:,} copies",
                       f.value_span(path + ("repeat",)))
            raise _Abort
        return n

    def _node_budget(self, nid: str, n: int, done: int, smallest: int, span: Span | None) -> None:
        """After `done` (two or more) of a repeat's `n` copies: refuse (ARC115, at `repeat:`) when the
        copies left, at `smallest` nodes each (the fewest a copy so far made), would pass the node
        limit. The limit counts nodes (a copy of a 50-node block counts 50), and a repeat far past
        it is refused after two copies, not after expanding 200,000 nodes. (A copy that makes no
        node, `when: false`, stops the estimate: then only the exact count at each node applies.)"""
        left = n - done
        if done < 2 or left <= 0 or smallest <= 0:
            return
        total = len(self.st.nodes) + left * smallest
        if total > MAX_NODES:
            self.error("ARC115", f"`{nid}.repeat` is {n}: its copies have {smallest:,} node{'s' if smallest != 1 else ''} "
                       f"each, so the graph would have {total:,} nodes, over the limit of {MAX_NODES:,} nodes",
                       span, hint="lower the repeat count (or a repeat inside the repeated block)")
            raise self.fail()

    def _repetition_names(self, nid: str, node: OpUse | BlockUse | SeqUse, scope: _Names, env: dict, n: int,
                          default: int = 0) -> list[str]:
        """The names of a repeat's `n` repetitions: `repeat_names` evaluated with `i`, else the index
        (plus `default`, the position of the first one in an enclosing `seq`)."""
        f, path = scope.file, node.path
        if not node.has("repeat_names"):
            return [str(default + k) for k in range(n)]
        vspan = f.value_span(path + ("repeat_names",))
        names: list[str] = []
        index: dict[str, int] = {}  # name -> its repetition (a set lookup, not a scan of the list)
        for k in range(n):
            child = self.eval_value(node.repeat_names, _with_i(env, k), vspan, f, f"`{nid}.repeat_names`")
            if isinstance(child, int) and not isinstance(child, bool) and child >= 0:
                child = str(child)  # an offset index, like torchvision's `features.1`
            if not isinstance(child, str) or not (child.isidentifier() or child.isdigit()):
                self.error("ARC102", f"`{nid}.repeat_names` gives repetition {k} the name {child!r}, which is not a valid name",
                           vspan, hint="a name is a letter or `_` followed by letters, digits and `_` "
                           "(\"layer_${i}\"), or a non-negative integer (\"${i + 1}\")")
                raise _Abort
            if child in index:
                self.error("ARC102", f"`{nid}.repeat_names` gives repetitions {index[child]} and {k} the same name "
                           f"{child!r}", vspan, hint="make the name depend on `i`, e.g. \"layer_${i}\"")
                raise _Abort
            index[child] = k
            names.append(child)
        return names

    def _expand_repeat(self, full: str, nid: str, n: int, node: OpUse | BlockUse | SeqUse, scope: _Names, env: dict,
                       in_refs: list[ValueRef], span: Span | None) -> ValueRef:
        self.st.scopes[full] = Scope(full, "repeat", None, span)
        cur = in_refs
        out = in_refs[0] if in_refs else None  # replaced by the first repetition (n >= 1 here)
        smallest = None
        rspan = scope.file.value_span(node.path + ("repeat",))
        names = self._repetition_names(nid, node, scope, env, n)
        self.st.children[full] = names
        for k, child in enumerate(names):
            env_k = _with_i(env, k)
            before = len(self.st.nodes)
            out = self.expand_instance(f"{full}.{child}", f"{nid}.{child}", node, scope, env_k, cur, span)
            made = len(self.st.nodes) - before
            smallest = made if smallest is None else min(smallest, made)
            self._node_budget(nid, n, k + 1, smallest, rspan)
            self.st.scope_outputs[f"{full}.{child}"] = out
            # the first input chains through the repetitions; the others (a mask, a memory) are
            # shared by every repetition
            cur = [out] + list(in_refs[1:])
        self.st.scope_outputs[full] = out
        return out

    def expand_instance(self, full: str, label: str, node: OpUse | BlockUse | SeqUse, scope: _Names, env: dict,
                        in_refs: list[ValueRef], span: Span | None) -> ValueRef:
        f = scope.file
        if isinstance(node, OpUse):
            return self.expand_op(full, label, node, scope, env, in_refs, span)
        if isinstance(node, BlockUse):
            return self.expand_block(full, label, node, scope, env, in_refs, span)
        if isinstance(node, SeqUse):
            self.st.scopes[full] = Scope(full, "seq", None, span)
            kids = self.st.children[full] = []  # `full.*`: every item (each repetition of a repeated one), in order
            cur = in_refs
            out = None  # every item absent: the seq stands for its input
            shift = 0  # a repeated item expands in place: the items after it move up by its extra copies
            named: dict[str, tuple[str, Span | None]] = {}  # a name given by repeat_names -> (its item, where)
            for k, item in enumerate(node.items):
                ipath = item.path
                ispan = f.value_span(ipath)
                pos = k + shift
                try:
                    if item.has("when"):
                        cond = self.eval_value(item.when, env, f.value_span(ipath + ("when",)), f, f"`{label}.{pos}.when`")
                        if cond is False:
                            continue
                    if item.has("repeat"):
                        n = self._repeat_count(f"{label}.{pos}", item, scope, env)
                        names = self._repetition_names(f"{label}.{pos}", item, scope, env, n, default=pos)
                        shift += n - 1
                        clash = next((c for c in names if f"{full}.{c}" in self.st.scopes
                                      or f"{full}.{c}" in self.st.node_index), None)
                        if clash is not None and clash in named and not item.has("repeat_names"):
                            self._later_clash(label, named[clash], clash, ispan, f)
                        if clash is not None:
                            self.error("ARC102", f"`{label}.{pos}.repeat_names` gives a repetition the name {clash!r}, "
                                       f"which another item of `{label}` already has",
                                       f.value_span(ipath + ("repeat_names",)),
                                       hint="a repeated item of a `seq` is named by position by default; "
                                       "leave out `repeat_names` or give names the other items do not use")
                            raise _Abort
                        if item.has("repeat_names"):
                            named.update({c: (f"{label}.{k + shift - n + 1}", f.value_span(ipath + ("repeat_names",)))
                                          for c in names})
                        self.st.repeat_product *= max(n, 1)
                        rlabel = f"{label}.{pos}"
                        try:
                            smallest = None
                            for j, child in enumerate(names):
                                pos = child
                                before = len(self.st.nodes)
                                out = self.expand_instance(f"{full}.{child}", f"{label}.{child}", item, scope,
                                                           _with_i(env, j), cur, ispan)
                                made = len(self.st.nodes) - before
                                smallest = made if smallest is None else min(smallest, made)
                                self._node_budget(rlabel, n, j + 1, smallest, f.value_span(ipath + ("repeat",)))
                                self.st.scope_outputs[f"{full}.{child}"] = out
                                kids.append(child)
                                cur = [out]
                        finally:
                            self.st.repeat_product //= max(n, 1)
                        continue
                    if str(pos) in named:  # an earlier item's repeat_names took this item's positional name
                        self._later_clash(label, named[str(pos)], str(pos), ispan, f)
                    out = self.expand_instance(f"{full}.{pos}", f"{label}.{pos}", item, scope, env, cur, ispan)
                    kids.append(str(pos))
                except _Abort:
                    self.st.poisoned.add(ValueRef(f"{full}.{pos}"))
                    raise
                cur = [out]
            if out is None:
                out = self.stand_in(label, in_refs, span)
            self.st.scope_outputs[full] = out
            return out
        raise _Abort  # unreachable: validation guarantees one of the three

    def _later_clash(self, label: str, by: tuple[str, Span | None], name: str, later: Span | None, f: SpecFile) -> None:
        """An item of a `seq` named by its position, which an earlier item's `repeat_names` already gave
        to one of its repetitions (ARC102 at that `repeat_names`)."""
        item, span = by
        self.error("ARC102", f"`{item}.repeat_names` gives a repetition the name {name!r}, which a later item of "
                   f"`{label}` has by its position", span,
                   related=(Related(f"this item is `{label}.{name}` by its position", later),),
                   hint="a `seq` item is named by its position (counting each repetition); give `repeat_names` "
                   "names the other items do not use (`\"unit_${i}\"`)")
        raise _Abort

    def expand_op(self, full: str, label: str, node: OpUse, scope: _Names, env: dict,
                  in_refs: list[ValueRef], span: Span | None) -> ValueRef:
        f, path = scope.file, node.path
        op = OPS[node.op]
        if op.arity[1] == 0 and not node.has("from"):
            in_refs = []  # an input-less op inside a `seq` or `repeat` does not take the chained value
        raw_attrs = node.attrs
        attrs: dict[str, Any] = {}
        failed = False
        symbolic = getattr(op.attrs, "symbolic_sizes", ())
        for k, v in raw_attrs.items():
            try:
                evaluate = self.eval_sizes if k in symbolic else self.eval_value
                attrs[k] = evaluate(v, env, f.value_span(path + (k,)), f, f"`{label}.{k}`")
            except _Abort:
                failed = True
        if failed:
            raise _Abort
        try:
            model = op.attrs.model_validate(attrs)
        except ValidationError as e:
            reported: set = set()
            for err in e.errors():
                key = err["loc"][0] if err["loc"] else None
                if key in reported:  # a union reports once per member: the first says it best
                    continue
                reported.add(key)
                vspan = f.value_span(path + (key,)) if key in raw_attrs else span
                got = attrs.get(key, None) if key is not None else None
                msg = err["msg"]
                if err["type"] == "missing":
                    self.error("ARC103", f"missing key `{key}` in `{label}` ({op.name})", span)
                    continue
                self.error("ARC102", f"`{key}` in `{label}` ({op.name}): {msg[0].lower() + msg[1:]}; got {got!r}", vspan,
                           hint="use `//` for integer division in expressions" if isinstance(got, float) and float(got).is_integer() else None)
            raise _Abort
        for key, v in attrs.items():
            for sub, big in big_ints(v):
                self.error("ARC209", f"`{key}` in `{label}` ({op.name}) is {shown(big)}, past the largest integer torch takes "
                           "(2^63 - 1)", f.value_span(path + (key,)) or span)
                raise _Abort
        numbers = {k: r for k, r in enumerate(in_refs) if isinstance(r, Number)}
        if numbers and not op.scalars:
            if self.index_from(f, path, in_refs):
                raise _Abort
            k, num = next(iter(numbers.items()))
            self.error("ARC102", f"`{label}` ({op.name}) takes tensors, but input {k} in its `from:` is the number {num}",
                       num.span or span, hint="numbers may be operands of elementwise ops only (add, sub, mul, div, pow, "
                       "minimum, maximum, where, comparisons); for a constant tensor use a `constant` or `param` node")
            raise _Abort
        lo, hi = op.arity
        if len(in_refs) < lo or (hi is not None and len(in_refs) > hi):
            want = f"{lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            self.error("ARC102", f"`{label}` ({op.name}) takes {want} input(s), got {len(in_refs)}",
                       f.value_span(path + ("from",)) if node.has("from") else span)
            raise _Abort
        operands = in_refs
        in_refs = _tensor_refs(operands)
        if numbers and not in_refs and self.index_from(f, path, operands):  # `{op: add, from: [-2, 1]}`
            raise _Abort
        in_types = [scalar_type(r.value) if isinstance(r, Number) else self.type_of(r) for r in operands]
        ctx = _Ctx(self, full, span, in_refs, [k for k, r in enumerate(operands) if not isinstance(r, Number)] if numbers else None)
        try:
            out = op.infer(ctx, model, in_types)
        except ShapeError as e:
            self.shape_error(e, label, op.name, span, operands, in_types, path, f)
            raise _Abort
        except Exception as e:  # a shape rule bug must not become a traceback
            self.error("ARC204", f"`{label}` ({op.name}): cannot infer the output shape: {e}", span)
            raise _Abort
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        for t in outs:
            known: list[int] | None = []
            for k, d in enumerate(t.shape):
                try:
                    v = D.evaluate(d, self.st.example_env)
                except Exception:
                    known = None
                    continue
                if known is not None:
                    known.append(v)
                if v <= 0:
                    sizes = ", ".join(f"{s}={self.st.example_env[s]}" for s in sorted(D.free_symbols(d)))
                    self.error("ARC206", f"`{label}` ({op.name}) output dim {k} would be {v}"
                               + (f" at {sizes} (`{D.dim_str(d)}`)" if sizes else ""), span,
                               hint="the input is too small for this op; check kernel, stride and padding")
                    raise _Abort
            why = storage_problem(known, t.dtype) if known is not None else None
            if why is not None:
                self.error("ARC209", f"`{label}` ({op.name}) output {t.shape_str()} cannot be allocated at the example "
                           f"sizes: {why}", span, hint="lower the sizes that lead here")
                raise _Abort
        bad = reserved_prefix(full)
        if bad is not None:
            if bad not in self.st.reserved_reported:  # once per name, not once per node under it
                self.st.reserved_reported.add(bad)
                where = self.st.scopes[bad].span if bad in self.st.scopes else span
                name = bad.rpartition(".")[2]
                self.error("ARC102", f"`{bad}` cannot be a module name: `{name}` is an attribute of torch's modules",
                           where or span, hint="rename it (node ids become module paths and state_dict keys)")
            raise _Abort
        ir_node = Node(full, op.name, model, list(in_refs), outs, span,
                       {k: f.value_span(path + (k,)) for k in raw_attrs if f.value_span(path + (k,))},
                       block=scope.block, scalars={k: r.value for k, r in numbers.items()})
        if op.params:
            ir_node.params = {k: tuple(_static(s)) for k, s in op.params(model, in_types).items()}
        if op.buffers:
            ir_node.buffers = {k: tuple(_static(s)) for k, s in op.buffers(model, in_types).items()}
        for what, shapes in (("parameter", ir_node.params), ("buffer", ir_node.buffers)):
            for k, shape in (shapes or {}).items():
                why = storage_problem(shape)
                if why is not None:
                    self.error("ARC209", f"`{label}` ({op.name}) {what} `{k or 'weight'}` of shape "
                               f"[{', '.join(map(shown, shape))}] cannot be allocated: {why}", span,
                               hint="lower the sizes that lead here")
                    raise _Abort
        self.st.total_params += ir_node.param_count
        if self.st.param_limit is not None and self.st.total_params > self.st.param_limit:
            self.error("ARC601", f"the model would have {self.st.total_params:,} parameters by `{full}`, over the limit of {self.st.param_limit:,}",
                       span, hint="raise it with --param-limit N (building on the meta device is not limited)")
            raise self.fail()
        if len(self.st.nodes) >= MAX_NODES:
            self.error("ARC115", f"the graph has more than {MAX_NODES:,} nodes (the limit) by `{full}`", span)
            raise self.fail()
        self.st.nodes.append(ir_node)
        self.st.node_index[full] = ir_node
        return ValueRef(full, 0)

    def shape_error(self, e: ShapeError, label: str, op: str, span: Span | None, in_refs: list[ValueRef | Number],
                    in_types: list[TensorType], path: tuple, f: SpecFile) -> None:
        related = []
        for k, (r, t) in enumerate(zip(in_refs, in_types)):
            if e.input_index is not None and k not in (e.input_index, 0):
                continue
            if isinstance(r, Number):
                if r.span is not None:
                    related.append(Related(f"input {k} is the number {r}", r.span))
                continue
            src_span = self.st.inputs[r.node].span if r.is_input else self.st.node_index[r.node].span
            related.append(Related(f"`{r}` produces {t.shape_str()}", src_span))
        self.error(e.code, f"`{label}` ({op}): {e.message}", span, hint=e.hint, related=tuple(related))

    def expand_block(self, full: str, label: str, node: BlockUse, scope: _Names, env: dict,
                     in_refs: list[ValueRef], span: Span | None) -> ValueRef:
        f, path = scope.file, node.path
        name = self.eval_value(node.block, env, f.value_span(path + ("block",)), f, f"`{label}.block`")
        if not isinstance(name, str):
            self.error("ARC102", f"`{label}.block` must name a block, got {name!r}", f.value_span(path + ("block",)))
            raise _Abort
        src = self.spec.blocks.get(name)
        if src is None:
            close = difflib.get_close_matches(name, list(self.spec.blocks), n=1)
            self.error("ARC113", f"unknown block `{name}`", f.value_span(path + ("block",)),
                       hint=f"did you mean `{close[0]}`?" if close else "define it under `blocks:` or import a library that does")
            raise _Abort
        if name in self.st.block_stack:
            self.error("ARC106", f"block `{name}` uses itself: " + " -> ".join(self.st.block_stack + [name]), span)
            raise _Abort
        bdef = src.model
        args = node.args
        bscope_env = dict(self.st.globals)
        ok = True
        for pname, pdecl in bdef.params.items():
            ptype, default, required = _param_decl(pdecl)
            if ptype not in _PARAM_TYPES:
                close = difflib.get_close_matches(str(ptype), list(_PARAM_TYPES), n=1)
                self.error("ARC102", f"block `{name}` param `{pname}` has unknown type `{ptype}`",
                           src.file.value_span(src.path + ("params", pname)),
                           hint=f"did you mean `{close[0]}`?" if close else f"types: {', '.join(_PARAM_TYPES)}")
                ok = False
                continue
            if pname in args:
                try:
                    val = self.eval_value(args[pname], env, f.value_span(path + ("args", pname)), f, f"`{label}.args.{pname}`")
                except _Abort:
                    ok = False
                    continue
                if not isinstance(val, _PARAM_TYPES[ptype]) or (ptype in ("int", "float") and isinstance(val, bool)):
                    self.error("ARC102", f"block `{name}` param `{pname}` must be {ptype}, got {val!r}", f.value_span(path + ("args", pname)))
                    ok = False
                bscope_env[pname] = val
            elif required:
                self.error("ARC109", f"block `{name}` needs a value for `{pname}`", span,
                           related=(Related(f"`{pname}` is declared here", src.file.key_span(src.path + ("params", pname))),),
                           hint=f"add `args: {{{pname}: ...}}`")
                ok = False
            else:
                bscope_env[pname] = default
        for a in args:
            if a not in bdef.params:
                close = difflib.get_close_matches(a, list(bdef.params), n=1)
                self.error("ARC116", f"block `{name}` has no param `{a}`", f.key_span(path + ("args", a)),
                           hint=f"did you mean `{close[0]}`?" if close else f"its params: {', '.join(bdef.params) or '(none)'}")
                ok = False
        num = next((r for r in in_refs if isinstance(r, Number)), None)
        if num is not None:
            if self.index_from(f, path, in_refs):
                raise _Abort
            self.error("ARC102", f"block `{name}` takes tensors as inputs, but `{label}` gives it the number {num}",
                       num.span or span, hint="numbers may be operands of elementwise ops only; give the block a node")
            raise _Abort
        if len(in_refs) != len(bdef.inputs):
            self.error("ARC102", f"block `{name}` takes {len(bdef.inputs)} input(s) ({', '.join(bdef.inputs)}), got {len(in_refs)}",
                       f.value_span(path + ("from",)) if node.has("from") else span)
            ok = False
        if not ok:
            raise _Abort
        # defaults may be expressions over other params and shape queries of the block's inputs
        input_env = {n: NodeRefValue(r, n) for n, r in zip(bdef.inputs, in_refs) if n not in bscope_env}
        for pname, v in list(bscope_env.items()):
            if pname in bdef.params and contains_expr(v):
                bscope_env[pname] = self.eval_value(v, {**input_env, **bscope_env}, src.file.value_span(src.path + ("params", pname)),
                                                    src.file, f"block `{name}` param `{pname}`")
        self.st.scopes[full] = Scope(full, "block", name, span)
        refs = dict(zip(bdef.inputs, in_refs))
        inner = _Names(full + ".", refs, {n: src.file.key_span(src.path + ("inputs",)) for n in refs}, src.file, bscope_env, name)
        self.st.block_stack.append(name)
        try:
            n_before = len(self.st.diags)
            last = self.expand_layers(src.file.nodes.get(src.path + ("layers",), []), src.path + ("layers",), inner, in_refs[0])
        finally:
            self.st.block_stack.pop()
            self.st.current_scope = scope
        if bdef.output is not None:
            try:
                last = self.resolve_ref(bdef.output, inner, src.file.value_span(src.path + ("output",)), {}, f"block {name}")
            except (_Abort, _ForwardRef):
                raise _Abort
        if last is None or last in self.st.poisoned or len(self.st.diags) > n_before and any(d.severity == "error" for d in self.st.diags[n_before:]):
            raise _Abort
        self.st.scope_outputs[full] = last
        return last

_ABSENT = ValueRef("<absent>")  # what expanding a left-out node with no input returns
_FROM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.*]*(\[[0-9]+\])?$")  # a `from:` name (FromRef, no expression)


def _sourceless(node: Any) -> bool:
    """An op use whose op takes no input (`param`, `constant`): it does not chain from the previous node."""
    op = OPS.get(node.op) if isinstance(node, OpUse) else None
    return op is not None and op.arity[1] == 0


def _ref_name(ref: Any) -> str:
    return ref.name if isinstance(ref, NodeRefValue) else str(ref)


def _static(shape: Any) -> list[int]:
    out = []
    for d in shape:
        if not isinstance(d, int):
            raise ShapeError("ARC204", f"parameter shapes must be static, got `{D.dim_str(d)}`")
        out.append(d)
    return out


def _param_decl(decl: Any) -> tuple[str, Any, bool]:
    """A block param declaration -> (type, default, required)."""
    if isinstance(decl, ParamSpec):
        t = decl.type
        return t, decl.default, decl.default is None and "default" not in decl.model_fields_set
    if isinstance(decl, dict) and set(decl) <= {"type", "default", "doc"} and "type" in decl:
        return decl["type"], decl.get("default"), "default" not in decl
    if isinstance(decl, str) and decl in _PARAM_TYPES:
        return decl, None, True
    for t, py in (("bool", bool), ("int", int), ("float", float), ("str", str), ("list", list)):
        if isinstance(decl, py):  # a default value: its type is the param's (bool before int)
            return t, decl, False
    return "any", decl, False


def elaborate(spec: LoadedSpec, session: Session) -> Graph:
    """The elaborate stage: the graph IR of a validated spec, reporting into `session`."""
    with gc_pause.paused():
        return Elaborator(spec, session).elaborate()
