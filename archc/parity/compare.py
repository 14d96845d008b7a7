"""`archc compare`: a compiled spec against its reference implementation, on randomized weights.

Both models are built on cpu (float64 by default, so a change of an eps or a scale is far above the
rounding); the reference's parameters and batch-norm statistics are redrawn so that activations stay of
order one (`archc.codegen.randomize`: fan-in-scaled weights, non-zero scales and gates, measured
batch-norm statistics) and mapped into the spec's module (`reference.weights`). Then, for each of
`seeds` random inputs of unit scale (integer inputs over their declared range), in eval mode:

- every output: `|spec - ref| <= atol + rtol * max|ref|` (the difference judged relative to the
  output's magnitude; both numbers are reported);
- the parameter gradients of one loss `sum_k (out_k * R_k).sum()` (a fixed random R_k per seed; the
  reference's gradients mapped into the spec's layout like its weights): for each key,
  `|g_spec - g_ref| <= atol + rtol * scale`, scale = max|g_ref| of that key, at least `GRAD_FLOOR_REL`
  times the largest gradient of any key (so a key whose true gradient is zero is judged against
  the model's gradients, not against nothing). The reference's frozen parameters (requires_grad
  False, or declared in `reference.weights.frozen`) are left out of this check, and so are the
  parameters declared `unused` (which are also left out of the reference's parameter count); the
  document lists both (`frozen_reference`, `unused_reference`).

A reference that proves nothing is refused, not passed (ARC605): an output whose magnitude is below
`FLOOR`, an output that is the same for two different inputs, or gradients that are all below
`FLOOR`. Then once more in train mode, with every dropout off, where the reference is deterministic
there: batch norms use their batch statistics, so those are compared too.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from archc.errors import UsageError
from archc.parity.reference import BadReference, build_reference, parse_ref
from archc.parity.weights import Provenance, map_state_dict, mapping_diagnostics

DTYPES = ("float64", "float32")
TOLERANCES = {"float64": (1e-12, 1e-7), "float32": (1e-6, 1e-4)}   # dtype -> (atol, rtol)
DEFAULT_SEEDS = 3
FLOOR = 1e-6                # an output (or all gradients) smaller than this in max abs value is degenerate
CONSTANT_REL = 1e-9         # outputs for two inputs closer than this (relative) are constant: degenerate
GRAD_FLOOR_REL = 1e-6
DEFAULT_TOL = TOLERANCES["float64"][1]   # the default rtol

# neither --against nor the spec's `reference.against` names a reference: a usage error
NoReference = UsageError


def _count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())   # shared parameters once


def _as_list(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _max_abs(a: Any, b: Any | None = None) -> float:
    import torch

    if a.numel() == 0:
        return 0.0
    a = a.detach()
    if b is not None:
        b = b.detach()
        if not (a.is_floating_point() and b.is_floating_point()):
            a, b = a.to(torch.float64), b.to(torch.float64)
        a = a - b.to(a.dtype)
    elif not a.is_floating_point():
        a = a.to(torch.float64)
    d = a.abs().max().item()
    return float("inf") if math.isnan(d) else float(d)


def _inputs(graph: Any, seed: int, dtype: Any) -> dict[str, Any]:
    from archc.codegen.verify import example_inputs

    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in example_inputs(graph, seed=seed).items()}


def compare_graph(graph: Any, against: str | None = None, *, seeds: int = DEFAULT_SEEDS, seed: int = 0,
                  rtol: float | None = None, atol: float | None = None, dtype: str = "float64",
                  train: bool = True, tol: float | None = None, span_of: Any = None,
                  progress: Callable[[str], None] | None = None, memory_limit: int | None = None,
                  spans: dict | None = None) -> dict[str, Any]:
    """Compare an elaborated graph with REF (default: the spec's `reference.against`). The JSON document.

    `tol` is the old name of `rtol`; `progress` is told each step as it starts."""
    step = progress or (lambda what: None)
    import torch

    from archc.codegen.randomize import randomize_
    from archc.pipeline import Options, from_graph, run
    from archc.profile.budget import check_memory

    if dtype not in DTYPES:
        raise UsageError(f"--dtype {dtype!r}: compare runs in " + " or ".join(DTYPES))
    if seeds < 1:
        raise UsageError(f"--seeds {seeds}: at least one seed")
    d_atol, d_rtol = TOLERANCES[dtype]
    rtol = rtol if rtol is not None else (tol if tol is not None else d_rtol)
    atol = atol if atol is not None else d_atol
    tdtype = getattr(torch, dtype)
    spec_ref = graph.reference
    against = against or (spec_ref.against if spec_ref is not None else None)
    if not against:
        raise NoReference("no reference to compare against: give --against REF (e.g. torchvision:resnet18) "
                          "or set `reference: {against: ...}` in the spec")
    parse_ref(against)
    check_memory(graph, [graph.example_env], "compare", dtype=dtype, limit=memory_limit, spans=spans)

    # verify on the meta device (cheap), then build the real module
    step("verifying every node's shape")
    run(from_graph(graph, Options(device="meta")), until="verify")
    step("building the module")
    gm = run(from_graph(graph, Options(device="cpu", verify=False, dtype=torch.float32)), until="lower").module
    gm = gm.to(tdtype)
    step(f"building the reference {against}")
    ref, call = build_reference(against, graph, seed=seed)
    ref = ref.to(tdtype)
    ref.eval()
    calib = _inputs(graph, seed, tdtype)
    step("randomizing the reference's weights")
    randomized = randomize_(ref, seed, calibrate=lambda: call(calib))

    target = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    mapping = spec_ref.weights if spec_ref is not None else None
    ties = [(t.param, t.to) for t in graph.ties]
    prov: dict[str, Provenance] = {}
    res = map_state_dict(ref.state_dict(), mapping, target, ties=ties, provenance=prov, span_of=span_of)
    problems = mapping_diagnostics(res, "reference", target)
    ref_params = dict(ref.named_parameters())
    unused_params = [k for k in res.unused if k in ref_params]
    unused_count = sum(ref_params[k].numel() for k in unused_params)
    frozen = [k for k in ref_params if k in set(res.frozen) or not ref_params[k].requires_grad]

    seed_list = list(range(seed, seed + seeds))
    doc: dict[str, Any] = {
        "spec": graph.spec_file,
        "name": graph.name,
        "variant": graph.variant,
        "reference": against,
        "params": _count(gm),
        "reference_params": _count(ref) - unused_count,
        "unused_reference": unused_params,
        "unused_reference_params": unused_count,
        "frozen_reference": frozen,
        "frozen_reference_params": sum(ref_params[k].numel() for k in frozen),
        "unmatched_spec": res.unmatched_spec,
        "unmatched_reference": res.unmatched_ref,
        "problems": [d.to_json() for d in problems],
        "outputs": {},
        "max_abs_diff": None,
        "max_rel_diff": None,
        "reference_max_abs": None,
        "max_grad_diff": None,
        "max_grad_rel_diff": None,
        "reference_grad_max_abs": None,
        "worst_grad_key": None,
        "dtype": dtype,
        "atol": atol,
        "rtol": rtol,
        "tol": rtol,
        "seed": seed,
        "seeds": seed_list,
        "weights": {"kind": "randomized", **randomized},
        "runs": [],
        "train": None,
        "refused": False,
    }
    loadable = not res.unmatched_spec and not res.problems
    reasons: list[str] = []
    refusals: list[str] = []
    if doc["params"] != doc["reference_params"]:
        reasons.append(f"parameter counts differ: spec {doc['params']:,}, reference {doc['reference_params']:,}"
                       + (f" ({unused_count:,} in {len(unused_params)} parameters declared unused left out)" if unused_params else ""))
    if res.unmatched_spec or res.unmatched_ref or res.problems:
        reasons.append(f"weights do not map: {len(res.unmatched_spec)} spec keys without a value, "
                       f"{len(res.unmatched_ref)} reference keys unused, {len(res.problems)} mis-shaped or broken")
    if not loadable:
        reasons.append("outputs not compared: the reference's weights cannot be loaded into the spec's module")
        return _finish(doc, reasons, refusals)

    gm.load_state_dict(res.mapped, strict=True)
    gm.eval()
    names = list(graph.outputs)
    judge = _Judge(atol, rtol)

    previous: dict[str, Any] | None = None
    for k, s in enumerate(seed_list):
        step(f"comparing outputs and gradients, seed {s} ({k + 1} of {len(seed_list)})")
        run_doc = _one_run(gm, ref, call, graph, names, _inputs(graph, s, tdtype), s, judge, mapping, ties, span_of)
        doc["runs"].append(run_doc)
        if run_doc.get("shape_mismatch"):
            break
        outs = run_doc.pop("_ref_outs")
        if previous is None and len(seed_list) == 1:   # one seed: a second input only to see that outputs vary
            with torch.no_grad():
                previous = {k: v.detach() for k, v in call(_inputs(graph, s + 1, tdtype)).items()}
        if previous is not None:
            _constant_check(previous, outs, names, refusals)
        previous = outs

    _summarise(doc, reasons, refusals, judge)
    if train and not reasons and not refusals:
        step("comparing in train mode")
        doc["train"] = _train_run(gm, ref, graph, names, _inputs(graph, seed, tdtype), seed, judge,
                                  mapping, ties, span_of, reasons)
    return _finish(doc, reasons, refusals)


class _Judge:
    """`|a - b| <= atol + rtol * scale`; remembers the worst relative difference and its place."""

    def __init__(self, atol: float, rtol: float):
        self.atol, self.rtol = atol, rtol

    def ok(self, diff: float, scale: float) -> bool:
        return diff <= self.atol + self.rtol * scale

    @staticmethod
    def rel(diff: float, scale: float) -> float:
        return diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))


def _forward(gm: Any, ref: Any, call: Callable, names: list[str], inputs: dict[str, Any]) -> tuple[dict, dict]:
    gm.zero_grad(set_to_none=True)
    ref.zero_grad(set_to_none=True)
    spec_outs = dict(zip(names, _as_list(gm(*inputs.values()))))
    return spec_outs, call(inputs)


def _one_run(gm: Any, ref: Any, call: Callable, graph: Any, names: list[str], inputs: dict[str, Any], s: int,
             judge: _Judge, mapping: Any, ties: list, span_of: Any) -> dict[str, Any]:
    """Outputs and gradients at one seed: the run's document (with `_ref_outs` for the constant check)."""
    spec_outs, ref_outs = _forward(gm, ref, call, names, inputs)
    out = _judge_outputs(spec_outs, ref_outs, names, judge)
    out["seed"] = s
    if not out.get("shape_mismatch"):
        out.update(_gradients(gm, ref, spec_outs, ref_outs, names, s, judge, mapping, ties, span_of))
    out["_ref_outs"] = {k: v.detach() if hasattr(v, "detach") else v for k, v in ref_outs.items()}
    return out


def _judge_outputs(spec_outs: dict, ref_outs: dict, names: list[str], judge: _Judge) -> dict[str, Any]:
    import torch

    run: dict[str, Any] = {"outputs": {}}
    for name in names:
        a, b = spec_outs[name], ref_outs[name]
        e: dict[str, Any] = {"shape": list(a.shape), "reference_shape": list(getattr(b, "shape", []))}
        if not isinstance(b, torch.Tensor) or tuple(a.shape) != tuple(b.shape):
            e["max_abs_diff"] = None
            e["reference_shape"] = list(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__
            run["shape_mismatch"] = True
        else:
            d, m = _max_abs(a, b), _max_abs(b)
            e.update(max_abs_diff=d, reference_max_abs=m, rel_diff=judge.rel(d, m), ok=judge.ok(d, m))
        run["outputs"][name] = e
    return run


def _gradients(gm: Any, ref: Any, spec_outs: dict, ref_outs: dict, names: list[str], s: int, judge: _Judge,
               mapping: Any, ties: list, span_of: Any) -> dict[str, Any]:
    import torch

    gen = torch.Generator().manual_seed(s + 1_000_003)
    weights = {n: torch.randn(spec_outs[n].shape, generator=gen, dtype=torch.float64).to(spec_outs[n].dtype)
               for n in names if spec_outs[n].is_floating_point() and spec_outs[n].requires_grad
               and getattr(ref_outs[n], "requires_grad", False)}
    if not weights:
        return {}
    sum((spec_outs[n] * r).sum() for n, r in weights.items()).backward()
    sum((ref_outs[n] * r).sum() for n, r in weights.items()).backward()
    return _grad_diffs(gm, ref, mapping, ties, span_of, judge)


def _grad_diffs(gm: Any, ref: Any, mapping: Any, ties: list, span_of: Any, judge: _Judge) -> dict[str, Any]:
    import torch

    spec_params = dict(gm.named_parameters(remove_duplicate=False))
    ref_grads = {k: (p.grad if p.grad is not None else torch.zeros_like(p))
                 for k, p in ref.named_parameters(remove_duplicate=False)}
    target = {k: tuple(p.shape) for k, p in spec_params.items()}
    prov: dict[str, Provenance] = {}
    res = map_state_dict(ref_grads, mapping, target, ties=ties, span_of=span_of, provenance=prov)
    frozen = set(res.frozen) | {k for k, p in ref.named_parameters(remove_duplicate=False) if not p.requires_grad}

    def is_frozen(k: str, seen: tuple = ()) -> bool:
        p = prov.get(k)
        if p is None or k in seen:
            return False
        if p.op == "tie":
            return is_frozen(p.sources[0], seen + (k,))
        return all(src in frozen for src in p.sources)

    pairs, missing, skipped = [], [], []
    for k, p in spec_params.items():
        if is_frozen(k):   # the reference does not train it: no gradient to compare
            skipped.append(k)
            continue
        g_ref = res.mapped.get(k)
        if g_ref is None:
            missing.append(k)
            continue
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        pairs.append((k, _max_abs(g, g_ref), _max_abs(g_ref)))
    largest = max((m for _, _, m in pairs), default=0.0)
    worst_abs, worst_rel, worst_key, ok = 0.0, -1.0, None, True
    for k, d, m in pairs:
        scale = max(m, GRAD_FLOOR_REL * largest)
        ok &= judge.ok(d, scale)
        worst_abs = max(worst_abs, d)
        if judge.rel(d, scale) > worst_rel:
            worst_rel, worst_key = judge.rel(d, scale), k
    done = bool(pairs) and not missing
    out: dict[str, Any] = {"max_grad_diff": worst_abs if done else None,
                           "max_grad_rel_diff": worst_rel if done else None,
                           "reference_grad_max_abs": largest if pairs else None,
                           "worst_grad_key": worst_key, "grad_ok": ok and done}
    if missing:
        out["grad_unmatched_spec"] = missing
    if skipped:
        out["grad_frozen"] = skipped
    return out


def _constant_check(prev: dict, outs: dict, names: list[str], refusals: list[str]) -> None:
    for n in names:
        a, b = prev.get(n), outs.get(n)
        if not hasattr(a, "shape") or not hasattr(b, "shape") or tuple(a.shape) != tuple(b.shape):
            continue
        if not (a.is_floating_point() and b.is_floating_point()):
            continue
        m = max(_max_abs(a), _max_abs(b))
        if _max_abs(a, b) <= CONSTANT_REL * m:
            msg = (f"the reference's output `{n}` is the same for two different inputs (max |difference| "
                   f"{_max_abs(a, b):.3g} at magnitude {m:.3g}): it does not depend on the input, so a match proves nothing")
            if msg not in refusals:
                refusals.append(msg)


def _summarise(doc: dict[str, Any], reasons: list[str], refusals: list[str], judge: _Judge) -> None:
    """Fold the per-seed runs into the document's top-level numbers, reasons and refusals."""
    worst, worst_rel, ref_mag = 0.0, 0.0, math.inf
    for run in doc["runs"]:
        s = run["seed"]
        for name, e in run["outputs"].items():
            prev = doc["outputs"].get(name)
            if e["max_abs_diff"] is None:
                reasons.append(f"output `{name}`: spec shape {e['shape']}, reference {e['reference_shape']}")
                doc["outputs"][name] = {k: v for k, v in e.items() if k != "ok"}
                worst = math.inf
                continue
            worst = max(worst, e["max_abs_diff"])
            worst_rel = max(worst_rel, e["rel_diff"])
            ref_mag = min(ref_mag, e["reference_max_abs"])
            if e["reference_max_abs"] < FLOOR:
                refusals.append(f"the reference's output `{name}` is degenerate at seed {s}: max |value| "
                                f"{e['reference_max_abs']:.3g} is below {FLOOR:g}")
            elif not e["ok"]:
                reasons.append(f"output `{name}` differs by {e['max_abs_diff']:.3g} at seed {s} "
                               f"({e['rel_diff']:.3g} of its magnitude {e['reference_max_abs']:.3g}; "
                               f"tolerance {judge.atol:g} + {judge.rtol:g} x magnitude)")
            if prev is None or (prev.get("max_abs_diff") is not None and e["max_abs_diff"] >= prev["max_abs_diff"]):
                doc["outputs"][name] = {k: v for k, v in e.items() if k != "ok"} | {"seed": s}
        if "grad_ok" in run or "grad_unmatched_spec" in run:
            g, gmag = run.get("max_grad_rel_diff"), run.get("reference_grad_max_abs")
            if g is None:
                reasons.append("gradients could not be compared: "
                               + ", ".join(f"`{k}`" for k in run.get("grad_unmatched_spec", [])[:5]))
            elif gmag is not None and gmag < FLOOR:
                refusals.append(f"the reference's gradients are degenerate at seed {s}: the largest is {gmag:.3g}, "
                                f"below {FLOOR:g}")
            elif not run["grad_ok"]:
                reasons.append(f"gradients differ at seed {s}: at `{run['worst_grad_key']}` by "
                               f"{g:.3g} of that gradient's magnitude (tolerance {judge.atol:g} + {judge.rtol:g} x magnitude)")
            for k in ("max_grad_diff", "reference_grad_max_abs"):
                if run.get(k) is not None:
                    doc[k] = max(doc[k] or 0.0, run[k]) if k == "max_grad_diff" else min(
                        doc[k] if doc[k] is not None else math.inf, run[k])
            if g is not None and (doc["max_grad_rel_diff"] is None or g >= doc["max_grad_rel_diff"]):
                doc["max_grad_rel_diff"], doc["worst_grad_key"] = g, run["worst_grad_key"]
    if doc["runs"]:
        doc["max_abs_diff"] = worst if math.isfinite(worst) else None
        doc["max_rel_diff"] = worst_rel if math.isfinite(worst) else None
        doc["reference_max_abs"] = ref_mag if math.isfinite(ref_mag) else None


def _dropout_off(module: Any) -> int:
    """Set every dropout probability of `module` to 0 (dropout modules, drop-path/stochastic depth,
    float attributes named like `*dropout*`/`drop_prob` that a forward reads). Returns how many."""
    import torch.nn as nn

    n = 0
    for m in module.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.p = 0.0
            n += 1
            continue
        for attr, v in list(vars(m).items()):
            low = attr.lower()
            if isinstance(v, float) and not isinstance(v, bool) and v != 0.0 and (
                    "drop" in low or (attr == "p" and any(w in type(m).__name__.lower() for w in ("stochastic", "drop")))):
                setattr(m, attr, 0.0)
                n += 1
    return n


def _train_run(gm: Any, ref: Any, graph: Any, names: list[str], inputs: dict[str, Any], s: int,
               judge: _Judge, mapping: Any, ties: list, span_of: Any, reasons: list[str]) -> dict[str, Any]:
    """The comparison once more in train mode, dropout off; skipped (with the reason) where the reference
    is not deterministic there or cannot run (a batch norm over one value per channel)."""
    import copy

    import torch

    from archc.parity.reference import make_call

    gm_t, ref_t = copy.deepcopy(gm), copy.deepcopy(ref)   # batch norms update their statistics in train mode
    call_t = make_call(ref_t, graph)
    off = _dropout_off(gm_t) + _dropout_off(ref_t)
    gm_t.train()
    ref_t.train()
    try:
        with torch.no_grad():
            a = call_t(inputs)
            b = call_t(inputs)
        for n in names:
            if hasattr(a[n], "shape") and not torch.equal(a[n], b[n]):
                return {"compared": False, "reason": f"the reference's output `{n}` is random in train mode "
                        f"even with dropout off", "dropout_off": off}
        run = _one_run(gm_t, ref_t, call_t, graph, names, inputs, s, judge, mapping, ties, span_of)
    except Exception as e:  # noqa: BLE001 - e.g. batch norm over a batch of one value per channel
        return {"compared": False, "reason": f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}",
                "dropout_off": off}
    run.pop("_ref_outs", None)
    for name, e in run["outputs"].items():
        if e.get("max_abs_diff") is None:
            reasons.append(f"train mode: output `{name}`: spec shape {e['shape']}, reference {e['reference_shape']}")
        elif not e["ok"]:
            reasons.append(f"train mode: output `{name}` differs by {e['max_abs_diff']:.3g} "
                           f"({e['rel_diff']:.3g} of its magnitude {e['reference_max_abs']:.3g})")
    if run.get("grad_ok") is False:
        g = run.get("max_grad_rel_diff")
        reasons.append(f"train mode: gradients differ at `{run.get('worst_grad_key')}`"
                       + (f" by {g:.3g} of that gradient's magnitude" if g is not None else ""))
    return {"compared": True, "dropout_off": off, **run}


def _finish(doc: dict[str, Any], reasons: list[str], refusals: list[str]) -> dict[str, Any]:
    from archc.diagnostics import Diagnostic

    doc["refused"] = bool(refusals) and not reasons
    doc["passed"] = not reasons and not refusals
    doc["reasons"] = reasons + refusals
    doc["problems"] += [Diagnostic("ARC604", r).to_json() for r in reasons]
    doc["problems"] += [Diagnostic("ARC605", r, hint="a comparison with an output or gradient this small or this "
                                   "constant would pass a wrong model; check the reference's config and the "
                                   "inputs' ranges").to_json() for r in refusals]
    return doc


def compare(spec: Any, against: str | None = None, overrides: dict[str, Any] | None = None,
            variant: str | None = None, *, seeds: int = DEFAULT_SEEDS, seed: int = 0, rtol: float | None = None,
            atol: float | None = None, dtype: str = "float64", train: bool = True,
            tol: float | None = None) -> dict[str, Any]:
    """The Python entry point: a spec path (or LoadedSpec) against REF. Returns the JSON document."""
    from archc.pipeline import Options, run

    unit = run(spec, Options(dict(overrides or {}), variant), until="check")
    return compare_graph(unit.graph, against, seeds=seeds, seed=seed, rtol=rtol, atol=atol, dtype=dtype,
                         train=train, tol=tol, span_of=unit.spec.main.value_span)


__all__ = ["BadReference", "NoReference", "compare", "compare_graph", "DEFAULT_TOL", "DEFAULT_SEEDS", "TOLERANCES"]
