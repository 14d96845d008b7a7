"""The spec's frame for elaboration: params (variants, `--set`, `extends:`), symbols and inputs.

Functions of the walk: each takes the `Elaborator` (`el`), reads the spec's model (`el.model`,
`el.main`), extends its `State` (`el.st`) and reports with `el.error`.
"""
from __future__ import annotations

import difflib
from typing import Any

from archc.diagnostics import Related, Span
from archc.elaborate.overflow import INT64_MAX, shown, storage_problem
from archc.ir import dims as D
from archc.elaborate.control import Abort as _Abort
from archc.ir.expr import contains_expr
from archc.ir.graph import GraphInput, Symbol
from archc.ir.types import TensorType

API_OVERRIDES = "<overrides>"


def override_span(el: Any, key: str) -> Span | None:
    """Where an override was given: `--set` on the command line, or the API's overrides dict."""
    if key in el.st.override_spans:
        return el.st.override_spans[key]
    if key == "--variant":
        text, start = f"variant={el.st.variant}", 0
    else:
        text = ", ".join(f"{k}={v!r}" for k, v in el.st.overrides.items())
        start = text.find(f"{key}=")
        if start < 0:
            return Span(API_OVERRIDES, 1, 1)
    el.session.add_source(API_OVERRIDES, text)
    end = text.find(", ", start)
    return Span(API_OVERRIDES, 1, start + len(key) + 2, 1, (end if end >= 0 else len(text)) + 1)


def override_key_span(el: Any, key: str) -> Span | None:
    """Where the NAME of an override was given (`hiden` of `--set hiden=3`, or of the API's
    overrides dict): what a name that is no param or symbol points at. `--set` records it under
    `key=` in the override spans (`archc.cli._common.key_span_key`)."""
    if f"{key}=" in el.st.override_spans:
        return el.st.override_spans[f"{key}="]
    if key in el.st.override_spans:     # given elsewhere (an `extends:` spec's params): its value
        return el.st.override_spans[key]
    value = override_span(el, key)
    if value is None or value.file != API_OVERRIDES or value.col <= len(key) + 1:
        return value
    return Span(API_OVERRIDES, 1, value.col - len(key) - 1, 1, value.col - 1)


# ---------------------------------------------------------------- params, symbols, inputs
def resolve_params(el: Any) -> None:
    m, f = el.model, el.main
    params = dict(m.params)
    ext = el.spec.extension
    if ext is not None:
        if el.st.variant is None:
            el.st.variant = ext.model.variant
            if el.st.variant is not None:
                el.st.override_spans.setdefault("--variant", ext.value_span(("variant",)))
        for k, v in ext.model.params.items():
            if k not in params:
                close = difflib.get_close_matches(k, list(params), n=1)
                el.error("ARC114", f"`{k}` is not a param of `{m.name}`", ext.key_span(("params", k)),
                           hint=f"did you mean `{close[0]}`?" if close else None)
            else:
                el.st.overrides.setdefault(k, v)
                el.st.override_spans.setdefault(k, ext.value_span(("params", k)))
    elif el.st.variant is None and m.variant is not None:
        el.st.variant = m.variant
        el.st.override_spans.setdefault("--variant", f.value_span(("variant",)))
    if el.st.variant is not None:
        if el.st.variant not in m.variants:
            close = difflib.get_close_matches(el.st.variant, list(m.variants), n=1)
            el.error("ARC110", f"unknown variant `{el.st.variant}`", override_span(el, "--variant"),
                       hint=f"did you mean `{close[0]}`?" if close else
                       (f"variants: {', '.join(m.variants)}" if m.variants else "this spec defines no variants"))
        else:
            for k, v in m.variants[el.st.variant].items():
                if k not in params and k not in m.symbols:
                    close = difflib.get_close_matches(k, list(params), n=1)
                    el.error("ARC114", f"variant `{el.st.variant}` sets `{k}`, which is not a param",
                               f.key_span(("variants", el.st.variant, k)),
                               hint=f"did you mean `{close[0]}`?" if close else "declare it under `params:`")
                elif k in m.symbols:
                    el.st.overrides.setdefault(k, v)
                else:
                    params[k] = v
    for name in set(m.params) & set(m.symbols):
        el.error("ARC117", f"`{name}` is both a param and a symbol", f.key_span(("symbols", name)),
                   related=(Related("param declared here", f.key_span(("params", name))),),
                   hint="params and symbols share one namespace (`--set` reaches both); rename one")
    el.st.bad_symbol_overrides: set[str] = set()
    for k, v in el.st.overrides.items():
        span = override_span(el, k)
        if k in m.symbols:
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                el.error("ARC114", f"symbol `{k}` must be set to a positive integer, got {v!r}", span)
                el.st.bad_symbol_overrides.add(k)
            continue
        if k not in params:
            close = difflib.get_close_matches(k, list(params) + list(m.symbols), n=1)
            el.error("ARC114", f"`{k}` is not a param or symbol of `{m.name}`", override_key_span(el, k),
                       hint=f"did you mean `{close[0]}`?" if close else
                       f"params: {', '.join(params) or '(none)'}; symbols: {', '.join(m.symbols) or '(none)'}")
            continue
        old = params[k]
        if old is not None and not contains_expr(old) and not _same_kind(old, v):
            el.error("ARC114", f"`{k}` is {_kind(old)} in the spec, so it cannot be set to {v!r}", span,
                       hint="write an integer, e.g. 2" if isinstance(old, int) and not isinstance(old, bool) else None)
            continue
        params[k] = v
    # params may refer to each other through expressions: evaluate in declaration order
    env: dict[str, Any] = {}
    for s_name, s in m.symbols.items():
        env[s_name] = el.st.overrides.get(s_name, s.example if isinstance(s.example, int) else None)
    for k, v in params.items():
        try:
            env[k] = el.eval_value(v, env, f.value_span(("params", k)), f, f"param `{k}`")
        except _Abort:
            env[k] = None
    el.st.params = {k: env[k] for k in params}
    el.st.globals = env


def resolve_symbols(el: Any) -> None:
    m, f = el.model, el.main
    for name, s in m.symbols.items():
        vals = {}
        for key in ("example", "min", "max", "multiple_of"):
            v = getattr(s, key)
            try:
                v = el.eval_value(v, el.st.globals, f.value_span(("symbols", name, key)), f, f"symbol `{name}.{key}`")
            except _Abort:
                v = None
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < (1 if key != "min" else 0)):
                el.error("ARC102", f"symbol `{name}.{key}` must be a positive integer, got {v!r}", f.value_span(("symbols", name, key)))
                v = None
            vals[key] = v
        ex = vals["example"] if name in el.st.bad_symbol_overrides else el.st.overrides.get(name, vals["example"])
        span = override_span(el, name) if name in el.st.overrides else f.value_span(("symbols", name, "example"))
        rng = D.SymbolRange(min=max(vals["min"] or 1, 1), max=vals["max"], multiple_of=vals["multiple_of"] or 1)
        if not isinstance(ex, int) or isinstance(ex, bool):
            ex = vals["example"] if vals["example"] is not None else rng.min
        el.st.globals[name] = ex
        problems = []
        if ex < rng.min:
            problems.append(f">= {rng.min}")
        if rng.max is not None and ex > rng.max:
            problems.append(f"<= {rng.max}")
        if ex % rng.multiple_of:
            problems.append(f"a multiple of {rng.multiple_of}")
        if problems:
            el.error("ARC203", f"{name} = {shown(ex)} is outside its declared range: it must be {' and '.join(problems)}",
                       span, related=(Related("declared here", f.key_span(("symbols", name))),))
        if ex > INT64_MAX:
            el.error("ARC209", f"{name} = {shown(ex)} is past the largest size torch holds (2^63 - 1)", span,
                     hint="sizes are 64-bit integers")
            ex = rng.min
        el.st.symbols[name] = Symbol(name, ex, rng, f.key_span(("symbols", name)))
        el.st.example_env[name] = ex


def resolve_inputs(el: Any) -> None:
    m, f = el.model, el.main
    el.st.inputs: dict[str, GraphInput] = {}
    for name, inp in m.inputs.items():
        shape: list[D.Dim] = []
        for j, d in enumerate(inp.shape):
            if isinstance(d, int) and not isinstance(d, bool):
                if d <= 0:
                    el.error("ARC206", f"input `{name}` dim {j} must be positive, got {d}", f.value_span(("inputs", name, "shape", j)))
                elif d > INT64_MAX:
                    el.error("ARC209", f"input `{name}` dim {j} is {shown(d)}, past the largest size torch holds (2^63 - 1)",
                             f.value_span(("inputs", name, "shape", j)), hint="sizes are 64-bit integers")
                    d = 1
                shape.append(d)
            elif isinstance(d, str) and d in m.symbols:
                shape.append(D.sym(d))
            elif isinstance(d, str) and contains_expr(d):
                try:
                    v = int(el.eval_value(d, el.st.globals, f.value_span(("inputs", name, "shape", j)), f, f"input `{name}`"))
                except (_Abort, TypeError, ValueError, OverflowError):
                    v = 1
                if v <= 0:  # as for a literal size
                    el.error("ARC206", f"input `{name}` dim {j} must be positive, got {d} = {v}", f.value_span(("inputs", name, "shape", j)))
                    v = 1
                elif v > INT64_MAX:
                    el.error("ARC209", f"input `{name}` dim {j} is {d} = {shown(v)}, past the largest size torch holds (2^63 - 1)",
                             f.value_span(("inputs", name, "shape", j)), hint="sizes are 64-bit integers")
                    v = 1
                shape.append(v)
            else:
                close = difflib.get_close_matches(str(d), list(m.symbols), n=1)
                el.error("ARC104", f"input `{name}` uses symbol `{d}`, which is not declared under `symbols:`",
                           f.value_span(("inputs", name, "shape", j)),
                           hint=f"did you mean `{close[0]}`?" if close else f"declare it: `symbols: {{{d}: {{example: ...}}}}`")
                shape.append(1)
        rng = None
        if inp.range is not None:
            try:
                rng = tuple(int(el.eval_value(v, el.st.globals, f.value_span(("inputs", name, "range")), f, f"input `{name}` range"))
                            for v in inp.range)
            except (_Abort, TypeError, ValueError):
                rng = None
        el.st.inputs[name] = GraphInput(name, TensorType(tuple(shape), inp.dtype), f.key_span(("inputs", name)), rng)
        try:
            sizes = [D.evaluate(d, el.st.example_env) for d in shape]
        except Exception:  # a symbol without a size (reported)
            continue
        why = storage_problem(sizes, inp.dtype)
        if why is not None:
            el.error("ARC209", f"input `{name}` cannot be allocated at its example sizes [{', '.join(map(shown, sizes))}]: {why}",
                     f.key_span(("inputs", name)), hint="lower the example sizes")


def _kind(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}.get(type(v), type(v).__name__)


def _same_kind(old: Any, new: Any) -> bool:
    """May `new` replace the param value `old`? Same kind; an int param takes only integers."""
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool)
    if isinstance(old, int):
        return isinstance(new, int)
    if isinstance(old, float):
        return isinstance(new, (int, float))
    if isinstance(old, list):
        return isinstance(new, list)
    return type(old) is type(new)
